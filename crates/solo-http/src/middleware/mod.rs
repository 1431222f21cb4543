//! The middleware every route runs through, in the order `build_app`
//! layers them (outermost first): security, observe, errors.

pub(crate) mod errors;
pub(crate) mod observe;
pub(crate) mod security;
