//! The middleware every route runs through, in the order `build_app`
//! layers them (outermost first): security, observe, errors, then CORS,
//! the request time limit and the body limit.

pub(crate) mod errors;
pub(crate) mod limits;
pub(crate) mod observe;
pub(crate) mod security;
