//! Tests of the world's objects in wall terms: the stop at the wall line.

use super::*;

/// The equator test wall (1° long, 1000 m segments).
fn wall() -> Arc<Wall> {
    Arc::new(
        Wall::from_vertices(vec![LatLon::new(0.0, 0.0), LatLon::new(0.0, 1.0)], 1000.0).unwrap(),
    )
}

fn scenario(objects: &str) -> Scenario {
    let text = format!("seed = 5\n{objects}");
    Scenario::parse("t.toml", &text, &std::collections::HashSet::new()).expect("valid scenario")
}

#[test]
fn people_stop_at_the_wall_line_to_climb_and_animals_do_not() {
    let w = wall();
    let s = scenario(
        "[[objects]]\nat = \"2s\"\nkind = \"person\"\nchainage_m = 5000.0\n\
         offset_m = 30.0\nspeed_m_s = 1.5\nduration = \"40s\"\n\
         [[objects]]\nat = \"2s\"\nkind = \"dog\"\nchainage_m = 5000.0\n\
         offset_m = 30.0\nspeed_m_s = 1.5\nduration = \"40s\"\n",
    );
    let world = World::new(&s, w.clone());
    let (person, dog) = (&world.objects()[0], &world.objects()[1]);
    // 30 m at 1.5 m/s: at the line 20 s after it appears, for 6 s.
    assert!((person.crosses_wall_s().unwrap() - 22.0).abs() < 1e-6);
    assert!(!person.at_fence(21.9) && person.at_fence(22.1) && person.at_fence(27.9));
    assert!(!person.at_fence(28.1));
    let (c, o) = person.wall_coords(&w, 25.0).unwrap();
    assert!((c - 5000.0).abs() < 0.01 && o.abs() < 0.01, "{c} {o}");
    let (_, o) = person.wall_coords(&w, 30.0).unwrap();
    assert!((o + 3.0).abs() < 0.01, "on the other side: {o}");
    assert_eq!(dog.crosses_wall_s(), None);
    let (_, o) = dog.wall_coords(&w, 30.0).unwrap();
    assert!((o + 12.0).abs() < 0.01, "{o}");
}
