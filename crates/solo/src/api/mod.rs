//! Routes that belong to the binary itself, not to one capability.

mod config_check;

use solo_http::ApiRoutes;

pub fn routes() -> ApiRoutes {
    config_check::routes()
}
