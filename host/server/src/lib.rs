//! Lathe's HTTP API server.
//!
//! - [`config`]: the clap-derive configuration of `serve`, `migrate` and `admin` (`LATHE_*`).
//! - [`http`]: the middleware stack, `/livez`, `/readyz`, `/metrics`, TLS, graceful shutdown.
//! - `api`: the JSON API under `/api/v1`, one file per resource, and its OpenAPI document.
//! - `cache`: request-path caches (tokens, roles, released queries, datasources), kept exact
//!   by a store-wide change counter.
//! - `auth`: passwords, sessions and API tokens, CSRF, login rate limits, the enforcement point.
//! - `authz`: the authorization model (casbin): roles, groups, grants, per-workspace policies.
//! - [`definition`]: the app definition's published JSON Schema and the checks beyond it.
//! - [`store`]: sqlx over SQLite or PostgreSQL, migrations, one file per table group.
//! - [`error`]: the crate's error enum and its problem+json HTTP edge.
//! - `mail`: outgoing email over SMTP for invites and password resets.
//! - [`commands`]: `lathe migrate`, `lathe admin create` and `lathe keys`.
//! - [`vault`]: envelope encryption of stored secrets; master keys and their rotation.
//! - `connectors`: the plugin catalog (bundled and installed) and the connection pool of
//!   each datasource.
//! - `install`: installing connectors from registries: fetch, verify, approve, activate.
//! - `pipeline`: running a query: `{{ }}` values, bound parameters, limits, audit.
//! - `state`, `telemetry`: shared handler state; log setup.

mod api;
mod auth;
mod authz;
mod cache;
pub mod commands;
pub mod config;
mod connectors;
pub mod definition;
pub mod error;
pub mod http;
mod install;
mod mail;
mod pipeline;
mod state;
pub mod store;
mod telemetry;
pub mod vault;

pub use api::openapi_json;
pub use http::serve;
pub use telemetry::init as init_logging;
