//! # winventory-workflows
//!
//! The campaign engine: campaign files ([`spec`]), the answers a poll offers
//! and their rules ([`answer`]), who is asked about each machine
//! ([`recipients`]), targets and per-person digests ([`plan`]), message
//! templates ([`render`]), signed answer links ([`token`]) and the buttons
//! that carry them in chats that have buttons ([`buttons`]), and the engine
//! that ties them to storage and channels ([`engine`], [`delivery`]); what
//! the bot says in any chat ([`conversation`], driving the reply grammar
//! [`reply`] and the command set [`commands`]). The
//! domain modules do no I/O; storage and channels are reached through the
//! store trait and [`delivery::Channel`].

pub mod answer;
pub mod buttons;
pub mod commands;
pub mod conversation;
pub mod delivery;
pub mod engine;
pub mod forecast;
pub mod licence;
pub mod plan;
pub mod recipients;
pub mod render;
pub mod reply;
pub mod spec;
pub mod token;

pub use recipients::{Recipient, group_by_recipient, recipient_for};
