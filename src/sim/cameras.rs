//! The simulated cameras' frames, shared by the live simulator (one thread
//! per camera, [`super::live_cameras`]) and the offline one
//! ([`super::offline`]): which configured cameras a scenario simulates,
//! when each frame is due, and the frame itself — the world's objects at
//! that moment, seen through the weather, rendered ([`super::thermal`]) and
//! encoded.

use std::io;

use super::scenario::{self, CameraFormat, Scenario};
use super::thermal::{CameraScene, ObjectState, SceneSettings, World};
use super::weather::Weather;
use crate::camera::geometry::{CameraModel, Mount};
use crate::config::{CameraConfig, Config};

pub(crate) fn invalid_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The configured cameras the scenario simulates, in config order; an
/// error names a listed camera that is not configured.
pub(crate) fn wanted_cameras<'c>(
    config: &'c Config,
    scenario: &Scenario,
) -> io::Result<Vec<&'c CameraConfig>> {
    match &scenario.cameras {
        None => Ok(config.camera.iter().collect()),
        Some(list) => {
            if let Some(unknown) = list
                .iter()
                .find(|id| !config.camera.iter().any(|c| &c.id == *id))
            {
                return Err(invalid_input(format!(
                    "scenario camera `{unknown}` is not a camera of the rampart config"
                )));
            }
            Ok(config
                .camera
                .iter()
                .filter(|c| list.contains(&c.id))
                .collect())
        }
    }
}

/// The frame settings a run can honour: the scenario's checks again (its
/// fields are public), and a frame that fits in an MQTT packet.
pub(crate) fn check_frames(config: &Config, scenario: &Scenario) -> io::Result<()> {
    let rate = scenario.camera_rate_hz;
    if !(rate.is_finite() && rate > 0.0 && rate <= scenario::MAX_CAMERA_RATE_HZ) {
        return Err(invalid_input(format!(
            "camera_rate_hz {rate} is not above 0 and at most {}",
            scenario::MAX_CAMERA_RATE_HZ
        )));
    }
    let (w, h) = (scenario.camera_width, scenario.camera_height);
    let side_ok = |v: u32| (1..=crate::frame::MAX_SIDE).contains(&v);
    let pixels = u64::from(w) * u64::from(h);
    if !(side_ok(w) && side_ok(h) && pixels <= scenario::MAX_CAMERA_PIXELS) {
        return Err(invalid_input(format!(
            "camera frames of {w}x{h} pixels: each side must be 1 to {} and the frame at most {} pixels",
            crate::frame::MAX_SIDE,
            scenario::MAX_CAMERA_PIXELS
        )));
    }
    // PNG frames are no larger than raw ones plus a little overhead.
    let bytes = crate::frame::RTF1_HEADER_LEN as u64 + 2 * pixels + 1024;
    if bytes > config.mqtt.max_packet_bytes as u64 {
        return Err(invalid_input(format!(
            "a {w}x{h} camera frame needs up to {bytes} bytes, over [mqtt] max_packet_bytes = {}",
            config.mqtt.max_packet_bytes
        )));
    }
    Ok(())
}

/// The camera's mount, as the daemon builds it.
pub fn mount(cam: &CameraConfig) -> Mount {
    Mount::from_config(cam)
}

/// The scenes of the cameras the scenario simulates (their terrain is
/// computed here: tens of milliseconds each).
pub fn scenes(config: &Config, scenario: &Scenario) -> io::Result<Vec<CameraScene>> {
    let wanted = wanted_cameras(config, scenario)?;
    if !wanted.is_empty() {
        check_frames(config, scenario)?;
    }
    let settings = SceneSettings::from_scenario(scenario);
    wanted
        .into_iter()
        .map(|cam| {
            CameraScene::new(&cam.id, mount(cam), settings.clone())
                .map_err(|e| invalid_input(format!("camera `{}`: {e}", cam.id)))
        })
        .collect()
}

/// The models of the cameras the scenario simulates, without their scenes
/// (cheap: for the ground truth).
pub fn models(config: &Config, scenario: &Scenario) -> io::Result<Vec<(String, CameraModel)>> {
    wanted_cameras(config, scenario)?
        .into_iter()
        .map(|cam| {
            CameraModel::new(mount(cam), scenario.camera_width, scenario.camera_height)
                .map(|m| (cam.id.clone(), m))
                .map_err(|e| invalid_input(format!("camera `{}`: {e}", cam.id)))
        })
        .collect()
}

/// When frame `seq` is due, seconds from the start of the scenario: `seq /
/// rate`; `None` once that is past the scenario's end.
pub fn frame_time_s(scenario: &Scenario, seq: u32) -> Option<f64> {
    let t_s = f64::from(seq) / scenario.camera_rate_hz;
    (t_s < scenario.duration.as_secs_f64()).then_some(t_s)
}

/// Renders frame `seq` of `scene` at `t_s` with the world's objects seen
/// through the weather, and encodes it as `format` (RTF1 with `seq` and
/// `capture_ms`). `states` is scratch space.
#[allow(clippy::too_many_arguments)]
pub fn frame_payload(
    scene: &mut CameraScene,
    world: Option<&World>,
    weather: &Weather,
    states: &mut Vec<ObjectState>,
    seq: u32,
    t_s: f64,
    format: CameraFormat,
    capture_ms: i64,
) -> Vec<u8> {
    match world {
        Some(w) => w.states_at(t_s, states),
        None => states.clear(),
    }
    let frame = scene.render_in(seq, t_s, states, weather.visibility(t_s));
    match format {
        CameraFormat::Rtf1 => crate::frame::encode_rtf1(frame, seq, capture_ms.max(0)),
        CameraFormat::Png => crate::frame::encode_png(frame),
    }
}
