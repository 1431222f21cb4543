//! Test harness shared by every crate: throwaway PostgreSQL clusters
//! ([`pg`]), one test body on both engines ([`engines`],
//! [`storage_tests!`]), and the real `solo` binary as a child process
//! ([`node`]).

pub mod app;
pub mod browser;
pub mod engines;
pub mod git;
pub mod node;
pub mod pg;
