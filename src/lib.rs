//! loci: build lightweight OCI images of OpenStack services from source.
//!
//! The binary runs inside `docker build` and replaces OpenStack LOCI's shell scripts. The flow is
//! always the same: [`config::Config::from_env`] turns the build arguments into a typed
//! configuration, [`steps::build_plan`] turns configuration plus the detected
//! [`distro::Distro`] into a [`plan::Plan`] (pure data: ordered steps with resolved package
//! lists and commands), and [`exec::execute`] runs it, each action in the step module that owns
//! it. `loci plan` prints the plan without touching the system.
//!
//! The library neither prints errors nor exits: progress goes through [`report`], and the
//! `loci` binary alone turns an error into a message and an exit code. See ARCHITECTURE.md for
//! the module map.

pub mod bindep;
pub mod cache;
pub mod cli;
pub mod config;
pub mod constraints;
pub mod disk;
pub mod distro;
pub mod error;
pub mod exec;
pub mod extract;
pub mod host;
pub mod http;
pub mod interrupt;
pub mod name_mapping;
pub mod os_release;
pub mod plan;
pub mod process;
pub mod pypi;
pub mod registry;
pub mod report;
pub mod runner;
pub mod sbom;
pub mod signing;
pub mod steps;

pub use error::{Error, Result};
