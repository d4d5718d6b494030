//! The exit codes of every `rampart` subcommand, one table for all:
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success; for `run`, a graceful stop |
//! | 1 | what was checked failed: `check-config` found problems, `replay` met a damaged recording, `score` found a scenario it could not run |
//! | 2 | the command line is wrong (usage) |
//! | 3 | the config (or a file it names: wall, keys, TLS, password) is invalid or cannot be read |
//! | 4 | the daemon could not start: the alert store, the broker address, the embedded broker, a camera thread, the recording file |
//! | 70 | a component of the running daemon died (panicked or ended unexpectedly): restart it; committed alerts wait in the store's outbox |
//! | 130 | a second SIGINT or SIGTERM: exited at once, without draining |

/// Success; for `run`, a graceful stop.
pub const OK: u8 = 0;
/// What was checked failed.
pub const CHECK_FAILED: u8 = 1;
/// The command line is wrong.
pub const USAGE: u8 = 2;
/// The config, or a file it names, is invalid or cannot be read.
pub const CONFIG: u8 = 3;
/// The daemon could not start.
pub const CANNOT_START: u8 = 4;
/// A component of the running daemon died.
pub const COMPONENT_DIED: u8 = 70;
/// A second signal: exited at once.
pub const SECOND_SIGNAL: u8 = 130;

/// The table above, for `--help`.
pub const TABLE: &str = "\
Exit codes (every subcommand):
    0    success; for `run`, a graceful stop
    1    what was checked failed (check-config problems, a damaged recording, a scenario that cannot run)
    2    the command line is wrong
    3    the config, or a file it names (wall, keys, TLS, password), is invalid or unreadable
    4    the daemon could not start (alert store, broker address, embedded broker, camera thread, recording file)
    70   a component of the running daemon died (panic or unexpected end): restart it; committed alerts wait in the outbox
    130  a second SIGINT/SIGTERM: exited at once, without draining";
