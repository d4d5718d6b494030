//! Rampart: a perimeter-intrusion detection core for a long border wall.
//!
//! Fence and trench controllers send sentences over serial lines and MQTT
//! ([`sentence`]); each source ([`ingest`]) parses them and hands them to the
//! [`engine`], where detection [`rules`] turn readings into evidence and the
//! [`incident`] book turns evidence into segment-tagged alerts placed on the
//! [`wall`]; sinks ([`sink`]) commit every alert to the [`store`] (outbox and
//! history), log it and publish it over MQTT. [`app`] wires these together over bounded channels.
//!
//! The core — `sentence`, `wall`, `config`, `layout`, `rules`, `incident`,
//! `engine`, `alert`, `evidence`, `time` — does no I/O and knows nothing of
//! tokio: time comes in as a value. The edges — `ingest`, `sink`, `mqtt`,
//! `broker`, `app`, `sim` — are thin adapters around it.

pub mod acl;
pub mod alert;
pub mod app;
pub mod auth;
pub mod broker;
pub mod camera;
mod capped;
pub mod config;
pub mod engine;
pub mod evidence;
pub mod exit;
pub mod failpoint;
pub mod frame;
pub mod health;
pub mod incident;
pub mod ingest;
pub mod kernel;
pub mod layout;
pub mod metrics;
pub mod mqtt;
pub mod record;
pub mod redelivery;
pub mod reload;
pub mod replay;
pub mod rules;
pub mod runtime;
pub mod score;
pub mod sdnotify;
pub mod secret;
pub mod sentence;
#[cfg(feature = "sim")]
pub mod sim;
pub mod sink;
pub mod store;
pub mod supervise;
pub mod time;
pub mod tls;
pub mod topics;
pub mod wall;

#[cfg(test)]
mod testkit;
