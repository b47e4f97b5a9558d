//! # winventory
//!
//! The `winventory` binary's library: its edges around the Winventory
//! libraries, in rooms a new piece of work can find by the folder name.
//!
//! - [`app`]: the composition root. The application (store, catalog,
//!   clock, engine) built once from the [`settings`] and handed to whichever
//!   command runs; ingest set up once for every edge.
//! - [`cli`]: the command line, one file per command family.
//! - `tasks`: the long-running processes (`worker`, `serve`) and their
//!   loops (delivery, scheduler, drop folder, chat listeners) under one
//!   supervisor with one stop signal and one retry discipline.
//! - [`http`]: the HTTP edge: router, answer pages, snapshot upload,
//!   health, metrics, Mattermost callbacks, the listener's limits.
//! - `channels`: email, Matrix and Mattermost behind the workflows'
//!   `Channel` trait, and the chat conversation they share.
//! - [`clock`]: the one time source.

pub mod app;
mod channels;
pub mod cli;
pub mod clock;
pub mod http;
pub mod settings;
pub mod tasks;
pub mod web;
