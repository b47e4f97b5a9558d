//! The binary's end-to-end tests, one test binary (each further binary
//! would link the whole tree again): the real `winventory` run against real
//! peers (SQLite and PostgreSQL, SMTP servers, Synapse) and the fake
//! Mattermost server that keeps to its published API.

#![recursion_limit = "256"]

mod common;
mod matrix_peer;

mod api;
mod browser;
mod campaign_email;
mod campaign_matrix;
mod campaign_mattermost;
mod cli;
mod cli_json;
mod first_hour;
mod licence_campaign;
mod licences;
mod operations;
mod router;
mod signin;
mod web;
