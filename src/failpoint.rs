//! Failure injection for the integration tests, in debug builds only: the
//! environment variable `RAMPART_FAILPOINT=<place>:<key>` makes that place
//! panic when it meets `key` (`engine:<device>`: the engine task, on a
//! sentence from that device; `camera:<id>`: that camera's worker, on its
//! first frame; `sink:<kind>`: the sink, on an alert of that kind). Release
//! builds compile it away: there it never fires, whatever the environment.

/// Panics if the failpoint `place` is armed for `key` (debug builds).
#[inline]
pub fn check(place: &str, key: &str) {
    #[cfg(debug_assertions)]
    {
        static ARMED: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        let armed = ARMED.get_or_init(|| std::env::var("RAMPART_FAILPOINT").ok());
        if let Some(armed) = armed {
            if armed.split_once(':') == Some((place, key)) {
                panic!("failpoint {armed} reached");
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = (place, key);
}
