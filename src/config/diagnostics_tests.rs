//! Tests of the located config diagnostics.

use super::*;
use serde::{Deserialize, Deserializer};
use std::time::Duration;

/// A duration written like `"500ms"` or `"30s"`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Interval(Duration);

impl<'de> Deserialize<'de> for Interval {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_interval(&text)
            .map(Interval)
            .ok_or_else(|| serde::de::Error::custom(format!("invalid duration `{text}`")))
    }
}

fn parse_interval(text: &str) -> Option<Duration> {
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    text.strip_suffix('s')?
        .parse()
        .ok()
        .map(Duration::from_secs)
}

impl Default for Interval {
    fn default() -> Self {
        Interval(Duration::from_secs(1))
    }
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestConfig {
    site: String,
    #[serde(default)]
    level: Level,
    #[serde(default)]
    mqtt: Mqtt,
    #[serde(default)]
    devices: Vec<Device>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Level {
    Debug,
    #[default]
    Info,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mqtt {
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    keep_alive: Interval,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Device {
    name: String,
    #[serde(default)]
    baud: u32,
    #[serde(default)]
    poll: Interval,
    #[serde(default)]
    mode: Level,
    #[serde(default)]
    zones: Vec<Zone>,
}

#[derive(Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Zone {
    start_m: f64,
    end_m: f64,
    #[serde(default)]
    rms_mg: Option<f64>,
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match deserialize_all::<TestConfig>("site.toml", text) {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(list) => list,
    }
}

/// `(line, column, key_path)` of each diagnostic.
fn places(list: &[Diagnostic]) -> Vec<(usize, usize, &str)> {
    list.iter()
        .map(|d| (d.line, d.column, d.key_path.as_str()))
        .collect()
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_owned())
}

#[test]
fn syntax_error_is_one_diagnostic_at_its_position() {
    let list = errors("site = \"x\"\n[mqtt\nurl = 1\n");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(places(&list), [(2, 6, "")]);
    assert!(!list[0].message.contains('\n'));
    assert!(!list[0].message.contains("TOML parse error"));
}

#[test]
fn independent_problems_are_reported_together() {
    let text = r#"site = "north"
sitee = "typo"

[[devices]]
name = "gate"

[[devices]]
name = "ridge"
baud = "fast"

[[devices.zones]]
start_m = 0.0
end_m = 10.0
foo = 1
"#;
    let list = errors(text);
    assert_eq!(
        places(&list),
        [
            (2, 1, "sitee"),
            (9, 8, "devices[1].baud"),
            (14, 1, "devices[1].zones[0].foo"),
        ]
    );
    assert!(list[0].message.starts_with("unknown field `sitee`"));
    assert!(list[1].message.starts_with("invalid type: string \"fast\""));
    assert_eq!(
        list[2].to_string(),
        format!(
            "site.toml:14:1: devices[1].zones[0].foo: {}",
            list[2].message
        )
    );
}

#[test]
fn unknown_table_is_reported_once() {
    let text = r#"site = "north"

[mqttt]
url = 1
bogus = "x"

[mqttt.tls]
ca = "ca.pem"

[[sensor]]
id = 1

[[sensor]]
id = 2
"#;
    let list = errors(text);
    assert_eq!(places(&list), [(3, 1, "mqttt"), (10, 1, "sensor")]);
}

#[test]
fn missing_required_key_points_at_its_table() {
    let text = r#"site = "north"

[[devices]]
baud = 9600

[[devices]]
name = 5

[[devices]]
name = "c"
extra = true
"#;
    let list = errors(text);
    // devices[1].name had the wrong type: reported once, not also as
    // missing; recovery continues to devices[2].
    assert_eq!(
        places(&list),
        [
            (3, 1, "devices[0].name"),
            (7, 8, "devices[1].name"),
            (11, 1, "devices[2].extra"),
        ]
    );
    assert_eq!(list[0].message, "missing field `name`");
}

#[test]
fn missing_top_level_key_points_at_document_start() {
    let list = errors("# no site\nlevel = \"debug\"\n");
    assert_eq!(places(&list), [(1, 1, "site")]);
}

#[test]
fn rejected_values_are_reported_at_the_value() {
    let text = r#"site = "north"
level = "loud"

[mqtt]
keep_alive = "soon"

[[devices]]
name = "gate"
mode = "chatty"
zones = [
  { start_m = 0.0, end_m = 5.0 },
  { start_m = 5.0, end_m = "far" },
]
"#;
    let list = errors(text);
    assert_eq!(
        places(&list),
        [
            (2, 9, "level"),
            (5, 14, "mqtt.keep_alive"),
            (9, 8, "devices[0].mode"),
            (12, 28, "devices[0].zones[1].end_m"),
        ]
    );
    assert_eq!(list[1].message, "invalid duration `soon`");
    assert!(list[2].message.starts_with("unknown variant `chatty`"));
}

#[test]
fn columns_count_characters() {
    let text = "site = \"north\"\n[[devices]]\nzones = [{ start_m = 1.0, end_m = 2.0, note = \"Zürich\", x = 1 }]\nname = \"a\"\n";
    let list = errors(text);
    assert_eq!(
        places(&list),
        [
            (3, 40, "devices[0].zones[0].note"),
            (3, 57, "devices[0].zones[0].x"),
        ]
    );
    let map = SourceMap::parse("f", text).expect("valid TOML");
    let path = [
        key("devices"),
        PathSeg::Index(0),
        key("zones"),
        PathSeg::Index(0),
    ];
    let x = map.diagnostic(&[&path[..], &[key("x")]].concat(), "m");
    // `x` is byte 58 but character 57: the `ü` is two bytes.
    assert_eq!((x.line, x.column), (3, 57));
}

#[test]
fn required_table_gets_placeholders_for_its_keys() {
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
        #[serde(default)]
        after: u8,
    }
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        count: u32,
        list: Vec<u8>,
        level: Level,
        flag: bool,
    }
    let err = deserialize_all::<Outer>("f", "after = \"x\"\nnope = 1\n");
    let list = err.expect_err("two problems");
    assert_eq!(
        places(&list),
        [(1, 1, "inner"), (1, 9, "after"), (2, 1, "nope")]
    );
}

#[test]
fn unsatisfiable_placeholder_ends_the_search() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Timed {
        poll: Interval,
        next: u8,
    }
    let list = deserialize_all::<Timed>("f", "next = 1\n").expect_err("poll is missing");
    assert_eq!(places(&list), [(1, 1, "poll")]);
}

#[test]
fn stops_after_fifty_problems() {
    let text: String = (0..80).map(|i| format!("typo{i} = {i}\n")).collect();
    let list = errors(&text);
    assert_eq!(list.len(), MAX_DIAGNOSTICS);
    assert_eq!(list[49].key_path, "typo49");
}

#[test]
fn source_map_locates_nested_items() {
    let text = r#"site = "north"
mqtt = { url = "tcp://x", keep_alive = "5s" }

[[devices]]
name = "a"

[[devices]]
name = "b"
ports = [1, 2, 3]

[[devices.zones]]
start_m = 0.0

[[devices.zones]]
start_m = 1.0
end_m = 2.0
"#;
    let map = SourceMap::parse("site.toml", text).expect("valid TOML");
    let at = |path: &[PathSeg]| {
        let d = map.diagnostic(path, "problem");
        (d.line, d.column, d.key_path)
    };
    let dev1 = [key("devices"), PathSeg::Index(1)];
    let zone1 = [&dev1[..], &[key("zones"), PathSeg::Index(1)]].concat();
    assert_eq!(at(&[]), (1, 1, String::new()));
    assert_eq!(at(&[key("site")]), (1, 1, "site".into()));
    assert_eq!(at(&dev1), (7, 1, "devices[1]".into()));
    assert_eq!(at(&zone1), (14, 1, "devices[1].zones[1]".into()));
    assert_eq!(
        at(&[&zone1[..], &[key("end_m")]].concat()),
        (16, 1, "devices[1].zones[1].end_m".into())
    );
    // A missing key falls back to its table's header.
    let zone0 = [&dev1[..], &[key("zones"), PathSeg::Index(0)]].concat();
    assert_eq!(
        at(&[&zone0[..], &[key("end_m")]].concat()),
        (11, 1, "devices[1].zones[0].end_m".into())
    );
    // Inline tables and arrays.
    assert_eq!(
        at(&[key("mqtt"), key("keep_alive")]),
        (2, 27, "mqtt.keep_alive".into())
    );
    assert_eq!(
        at(&[&dev1[..], &[key("ports"), PathSeg::Index(2)]].concat()),
        (9, 16, "devices[1].ports[2]".into())
    );
    assert_eq!(
        at(&[&dev1[..], &[key("ports"), PathSeg::Index(7)]].concat()),
        (9, 1, "devices[1].ports[7]".into())
    );
    assert_eq!(
        map.diagnostic(&[key("mqtt"), key("url")], "bad scheme")
            .to_string(),
        "site.toml:2:10: mqtt.url: bad scheme"
    );
}

#[test]
fn valid_document_deserializes() {
    let text = r#"site = "north"
level = "debug"

[mqtt]
url = "tcp://broker:1883"

[[devices]]
name = "gate"
baud = 9600
poll = "250ms"

[[devices.zones]]
start_m = 0.0
end_m = 12.5
rms_mg = 40.0

[[devices]]
name = "ridge"
"#;
    let config: TestConfig = deserialize_all("site.toml", text).expect("valid config");
    let expected = TestConfig {
        site: "north".into(),
        level: Level::Debug,
        mqtt: Mqtt {
            url: Some("tcp://broker:1883".into()),
            keep_alive: Interval::default(),
        },
        devices: vec![
            Device {
                name: "gate".into(),
                baud: 9600,
                poll: Interval(Duration::from_millis(250)),
                mode: Level::Info,
                zones: vec![Zone {
                    start_m: 0.0,
                    end_m: 12.5,
                    rms_mg: Some(40.0),
                }],
            },
            Device {
                name: "ridge".into(),
                ..Device::default()
            },
        ],
    };
    assert_eq!(config, expected);
    let same: TestConfig = toml::from_str(text).expect("valid config");
    assert_eq!(same, expected);
}

#[test]
fn display_omits_empty_key_path() {
    let d = Diagnostic {
        file: "a.toml".into(),
        line: 3,
        column: 7,
        key_path: String::new(),
        message: "expected `=`".into(),
    };
    assert_eq!(d.to_string(), "a.toml:3:7: expected `=`");
}

#[test]
fn renders_paths() {
    let path = [
        key("devices"),
        PathSeg::Index(2),
        key("zones"),
        PathSeg::Index(0),
        key("rms_mg"),
    ];
    assert_eq!(render_path(&path), "devices[2].zones[0].rms_mg");
    assert_eq!(render_path(&[key("a.b"), key("c")]), "\"a.b\".c");
    assert_eq!(render_path(&[]), "");
}

#[test]
fn messages_lose_toml_snippets() {
    let shown = "TOML parse error at line 1, column 10\n  |\n1 | a = 00:32:00.a999\n  |          ^\ninvalid time\nexpected `digit`\n";
    assert_eq!(clean_message(shown), "invalid time; expected `digit`");
}

#[test]
fn message_parsing() {
    assert_eq!(
        backticked(
            "unknown field `foo`, expected one of `a`, `b`",
            "unknown field `"
        ),
        Some("foo")
    );
    assert_eq!(
        backticked(
            "unknown field `foo`, there are no fields",
            "unknown field `"
        ),
        Some("foo")
    );
    assert_eq!(
        backticked("missing field `bar`", "missing field `"),
        Some("bar")
    );
    assert_eq!(backticked("invalid type", "missing field `"), None);
    assert_eq!(
        expected_variant("unknown variant ``, expected `debug` or `info`"),
        Some("debug")
    );
    assert_eq!(
        expected_variant("unknown variant `x`, there are no variants"),
        None
    );
}
