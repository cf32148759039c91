use pikku::prelude::*;

use crate::{Services, UserSession};

/// CORS for the origins in `PIKKU_CORS_ORIGINS`; unset, none. (An invalid value has already stopped `main`;
/// anything else that builds the application gets the start-up error naming this line.)
#[pikku_wiring]
fn cors(w: &mut Wirings<Services, UserSession>) {
    if let Some(options) = crate::cors_from_env() {
        w.cors(options);
    }
}
