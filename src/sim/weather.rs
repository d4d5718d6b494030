//! Weather on the simulated site: wind and gusts that shake the fence, rain
//! and dust that veil the cameras. Everything is decided up front from the
//! seed (streams of [`Rng`] keyed by the event and the controller), so the
//! weather at a moment is a pure function of the scenario and the time.
//!
//! # Wind (`kind = "wind"`)
//!
//! For each fence controller it blows on (`device`, or every fence
//! controller), a wind of strength `S` (`strength_mg`, default 500 mg)
//! induces on every zone of the controller the RMS
//!
//! - sustained: `S · (1 + 0.15 sin(2πt/23 s + φ₁) + 0.10 sin(2πt/7.3 s + φ₂))`,
//!   ramped up over the first 3 s and down over the last 3 s of the event;
//! - plus **gusts**: starting `U(0, 8)` s into the event, then one every
//!   `U(2, 10)` s after the previous one ends; each lasts `U(2, 5)` s and
//!   adds `U(0.4, 1.2) · S` at its middle, shaped `sin²`.
//!
//! The gusts are the same for all zones of a controller (they rise
//! together) and independent between controllers. Each zone then scales the
//! wind by a fixed factor `U(0.8, 1.2)` (how loose its panels are) and each
//! reading by a jitter `N(1, 0.12)` (see [`super::devices`]). A breeze of
//! 300 mg stays mostly under the default 400 mg threshold with gusts over
//! it; a storm of 700 mg is over it on most zones most of the time, with
//! peaks (≈ 3 × RMS) far over 1500 mg. Several winds on one controller add
//! as `√(a² + b²)`, and so does a climber on top of the wind.
//!
//! # Gusts (`kind = "gust"`)
//!
//! Short sharp gusts without a sustained wind: the first starts `U(0, 2)` s
//! into the event, the next `U(3, 8)` s after one ends; each lasts
//! `U(1.5, 4)` s (shortened to fit the event) and peaks at
//! `U(0.75, 1.25) · S` (`strength_mg`, default 1200 mg), shaped `sin²`.
//!
//! # Rain and dust (`kind = "rain"`, `kind = "dust"`)
//!
//! Site-wide, of intensity `I` (0 to 1, default 0.5), ramped up over 10 s
//! (unless it starts with the scenario) and down over the last 10 s.
//! Several at once: the heaviest counts.
//!
//! - Cameras: every temperature difference to the ground (terrain, sky,
//!   objects, sun-warmed rocks) is multiplied by `1 − 0.85 · I`, and the
//!   sensor noise by `1 + I` (σ 0.05 K → 0.1 K at `I = 1`). A person of
//!   +8 K in rain of 0.7 is +3.2 K, at the detector's default ΔT of 3 K.
//! - Fence: drops on the panels add `I · N(120, 40)` mg RMS to every zone
//!   (in quadrature), well under the thresholds.

use super::rng::Rng;
use super::scenario::{EventKind, Scenario};

/// Default `strength_mg` of a wind.
pub const DEFAULT_WIND_MG: f64 = 500.0;
/// Default `strength_mg` of a gust event.
pub const DEFAULT_GUST_MG: f64 = 1200.0;
/// Default `intensity` of rain and dust.
pub const DEFAULT_INTENSITY: f64 = 0.5;
/// How much of a temperature difference rain of intensity 1 takes away.
pub const RAIN_CONTRAST_LOSS: f64 = 0.85;
/// Mean and spread of the RMS that rain of intensity 1 adds on a zone, mg.
pub const RAIN_FENCE_MG: (f64, f64) = (120.0, 40.0);

/// How the cameras see through the weather at a moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Visibility {
    /// Factor on every temperature difference to the ground (1: clear).
    pub contrast: f64,
    /// Factor on the sensor noise (1: clear).
    pub noise: f64,
}

impl Visibility {
    /// Clear air.
    pub const CLEAR: Visibility = Visibility {
        contrast: 1.0,
        noise: 1.0,
    };
}

/// One gust: when it starts, how long, how strong at its middle.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Gust {
    start_s: f64,
    len_s: f64,
    peak_mg: f64,
}

impl Gust {
    fn at(&self, t_s: f64) -> f64 {
        let x = (t_s - self.start_s) / self.len_s;
        if (0.0..1.0).contains(&x) {
            self.peak_mg * (std::f64::consts::PI * x).sin().powi(2)
        } else {
            0.0
        }
    }
}

/// One wind or gust event on one fence controller.
#[derive(Debug, Clone, PartialEq)]
struct WindTrack {
    device: String,
    start_s: f64,
    end_s: f64,
    /// The sustained strength (0 for gust events).
    sustained_mg: f64,
    phases: (f64, f64),
    gusts: Vec<Gust>,
}

impl WindTrack {
    fn at(&self, t_s: f64) -> f64 {
        if !(self.start_s..self.end_s).contains(&t_s) {
            return 0.0;
        }
        let tau = std::f64::consts::TAU;
        let sustained = if self.sustained_mg > 0.0 {
            let ramp = ((t_s - self.start_s) / 3.0)
                .min((self.end_s - t_s) / 3.0)
                .clamp(0.0, 1.0);
            let swell = 1.0
                + 0.15 * (tau * t_s / 23.0 + self.phases.0).sin()
                + 0.10 * (tau * t_s / 7.3 + self.phases.1).sin();
            self.sustained_mg * swell * ramp
        } else {
            0.0
        };
        sustained + self.gusts.iter().map(|g| g.at(t_s)).sum::<f64>()
    }
}

/// Rain or dust over the whole site.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Veil {
    start_s: f64,
    end_s: f64,
    intensity: f64,
}

impl Veil {
    fn at(&self, t_s: f64) -> f64 {
        if !(self.start_s..self.end_s).contains(&t_s) {
            return 0.0;
        }
        let up = if self.start_s > 0.0 {
            (t_s - self.start_s) / 10.0
        } else {
            1.0
        };
        let down = (self.end_s - t_s) / 10.0;
        self.intensity * up.min(down).clamp(0.0, 1.0)
    }
}

/// The weather of a scenario.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Weather {
    winds: Vec<WindTrack>,
    veils: Vec<Veil>,
}

impl Weather {
    /// The weather `scenario` scripts, on the fence controllers `fences`
    /// (their ids; a wind on another device blows on nothing).
    pub fn new(scenario: &Scenario, fences: &[String]) -> Self {
        let mut weather = Weather::default();
        for (i, ev) in scenario.events.iter().enumerate() {
            let start_s = ev.at.as_secs_f64();
            let end_s = start_s + ev.duration.as_secs_f64();
            match ev.kind {
                EventKind::Wind | EventKind::Gust => {
                    let on: Vec<&String> = fences
                        .iter()
                        .filter(|f| ev.device.as_ref().is_none_or(|d| d == *f))
                        .collect();
                    for device in on {
                        let mut rng = Rng::new(scenario.seed, &format!("wind/{i}/{device}"));
                        // No gusts are drawn past the scenario's end.
                        let until = end_s.min(scenario.duration.as_secs_f64());
                        let mut track = if ev.kind == EventKind::Wind {
                            let s = ev.strength_mg.unwrap_or(DEFAULT_WIND_MG);
                            wind(&mut rng, device, start_s, until, s)
                        } else {
                            let s = ev.strength_mg.unwrap_or(DEFAULT_GUST_MG);
                            gusts(&mut rng, device, start_s, until, s)
                        };
                        track.end_s = end_s;
                        weather.winds.push(track);
                    }
                }
                EventKind::Rain | EventKind::Dust => weather.veils.push(Veil {
                    start_s,
                    end_s,
                    intensity: ev.intensity.unwrap_or(DEFAULT_INTENSITY).clamp(0.0, 1.0),
                }),
                _ => {}
            }
        }
        weather
    }

    /// The RMS the wind induces on the zones of fence controller `device`
    /// at `t_s`, before each zone's own factor, milli-g (0 when calm).
    pub fn wind_mg(&self, device: &str, t_s: f64) -> f64 {
        self.winds
            .iter()
            .filter(|w| w.device == device)
            .map(|w| w.at(t_s).powi(2))
            .sum::<f64>()
            .sqrt()
    }

    /// The heaviest rain or dust at `t_s`, 0 to 1.
    pub fn veil(&self, t_s: f64) -> f64 {
        self.veils.iter().map(|v| v.at(t_s)).fold(0.0, f64::max)
    }

    /// How the cameras see at `t_s`.
    pub fn visibility(&self, t_s: f64) -> Visibility {
        let i = self.veil(t_s);
        Visibility {
            contrast: 1.0 - RAIN_CONTRAST_LOSS * i,
            noise: 1.0 + i,
        }
    }
}

/// A sustained wind of strength `s` with random gusts.
fn wind(rng: &mut Rng, device: &str, start_s: f64, end_s: f64, s: f64) -> WindTrack {
    let tau = std::f64::consts::TAU;
    let phases = (rng.range(0.0, tau), rng.range(0.0, tau));
    let mut gusts = Vec::new();
    let mut t = start_s + rng.range(0.0, 8.0);
    while t < end_s {
        let len_s = rng.range(2.0, 5.0);
        gusts.push(Gust {
            start_s: t,
            len_s,
            peak_mg: s * rng.range(0.4, 1.2),
        });
        t += len_s + rng.range(2.0, 10.0);
    }
    WindTrack {
        device: device.to_owned(),
        start_s,
        end_s,
        sustained_mg: s,
        phases,
        gusts,
    }
}

/// Short sharp gusts of about `s` with calm between them.
fn gusts(rng: &mut Rng, device: &str, start_s: f64, end_s: f64, s: f64) -> WindTrack {
    let span = end_s - start_s;
    let mut gusts = Vec::new();
    let mut t = start_s + rng.range(0.0, 2.0_f64.min(span / 4.0));
    while t < end_s {
        let len_s = rng.range(1.5, 4.0).min(end_s - t);
        gusts.push(Gust {
            start_s: t,
            len_s,
            peak_mg: s * rng.range(0.75, 1.25),
        });
        t += len_s + rng.range(3.0, 8.0);
    }
    WindTrack {
        device: device.to_owned(),
        start_s,
        end_s,
        sustained_mg: 0.0,
        phases: (0.0, 0.0),
        gusts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather(events: &str) -> Weather {
        let s = Scenario::parse(
            "t.toml",
            &format!("seed = 9\n{events}"),
            &["fence-a".to_owned(), "fence-b".to_owned()].into(),
        )
        .expect("valid scenario");
        Weather::new(&s, &["fence-a".to_owned(), "fence-b".to_owned()])
    }

    fn series(w: &Weather, device: &str, from: f64, to: f64) -> Vec<f64> {
        (0..)
            .map(|i| from + 0.5 * f64::from(i))
            .take_while(|t| *t < to)
            .map(|t| w.wind_mg(device, t))
            .collect()
    }

    #[test]
    fn a_storm_blows_around_its_strength_with_gusts_over_it() {
        let w = weather(
            "[[events]]\nat = \"0s\"\nkind = \"wind\"\nstrength_mg = 700.0\nduration = \"120s\"\n",
        );
        let v = series(&w, "fence-a", 5.0, 115.0);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((700.0..1000.0).contains(&mean), "mean {mean}");
        let max = v.iter().copied().fold(0.0, f64::max);
        assert!(max > 1100.0, "gusts reach {max}");
        // Calm outside the event; another controller has other gusts.
        assert_eq!(w.wind_mg("fence-a", 121.0), 0.0);
        assert_ne!(v, series(&w, "fence-b", 5.0, 115.0));
        assert_eq!(w.wind_mg("trench-a", 50.0), 0.0);
    }

    #[test]
    fn gusts_come_and_go_without_a_sustained_wind() {
        let w = weather(
            "[[events]]\nat = \"10s\"\nkind = \"gust\"\ndevice = \"fence-b\"\nduration = \"30s\"\n",
        );
        let v = series(&w, "fence-b", 10.0, 40.0);
        let strong = v.iter().filter(|x| **x > 600.0).count();
        let calm = v.iter().filter(|x| **x < 50.0).count();
        assert!(strong >= 2 && calm >= 10, "{v:?}");
        assert!(series(&w, "fence-a", 0.0, 60.0).iter().all(|x| *x == 0.0));
    }

    #[test]
    fn rain_ramps_in_and_veils_the_cameras() {
        let w = weather(
            "[[events]]\nat = \"20s\"\nkind = \"rain\"\nintensity = 0.8\nduration = \"40s\"\n",
        );
        assert_eq!(w.visibility(10.0), Visibility::CLEAR);
        assert!((w.veil(25.0) - 0.4).abs() < 1e-9);
        let v = w.visibility(40.0);
        assert!((v.contrast - 0.32).abs() < 1e-9 && (v.noise - 1.8).abs() < 1e-9);
        // From the start of the scenario there is no ramp.
        let w = weather("[[events]]\nat = \"0s\"\nkind = \"dust\"\nduration = \"40s\"\n");
        assert_eq!(w.veil(0.0), 0.5);
    }
}
