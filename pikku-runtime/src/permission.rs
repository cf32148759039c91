//! Permissions: `#[pikku_auth]` (services, session) and `#[pikku_permission]` (services, data, session)
//! checks, combined as an OR of AND-groups, plus global permissions that must each pass as well.
//!
//! They run after the auth gate and after the input is parsed, so a permission may look at the data: it
//! reads its view from the same [`MergedInput`] the function's input was read from, not from the request
//! again.

use std::sync::Arc;

use crate::input::MergedInput;
use crate::middleware::BoxFuture;
use crate::request_id::RequestId;

/// A permission check. `#[pikku_auth]` and `#[pikku_permission]` implement it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a pikku permission",
    note = "mark an `async fn(services, session) -> bool` with `#[pikku_auth]`, or an `async fn(services, data, session) -> bool` with `#[pikku_permission]`"
)]
pub trait Permission<Sv, S>: Send + Sync + 'static {
    /// Decides whether the request may proceed. A `pikku_auth` check without a session is `false`; a
    /// `pikku_permission` reads its view with [`MergedInput::deserialize`] and denies when it does not fit.
    fn check<'a>(&'a self, services: &'a Sv, input: &'a MergedInput<'_>, session: Option<&'a S>)
        -> BoxFuture<'a, bool>;

    /// The name `info` prints.
    fn name(&self) -> &'static str;
}

/// A shareable permission.
pub struct SharedPermission<Sv, S>(Arc<dyn Permission<Sv, S>>);

impl<Sv: 'static, S: 'static> SharedPermission<Sv, S> {
    /// Wraps a permission.
    pub fn new(permission: impl Permission<Sv, S>) -> Self {
        Self(Arc::new(permission))
    }

    /// The permission's name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl<Sv, S> Clone for SharedPermission<Sv, S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<Sv: 'static, S: 'static> std::fmt::Debug for SharedPermission<Sv, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SharedPermission").field(&self.name()).finish()
    }
}

/// The permissions of one function: global ones (each must pass) and the function's groups (one group
/// must pass entirely; no group means no function-level requirement).
pub(crate) struct Permissions<Sv, S> {
    global: Arc<[SharedPermission<Sv, S>]>,
    groups: Vec<Vec<SharedPermission<Sv, S>>>,
}

impl<Sv: 'static, S: 'static> Permissions<Sv, S> {
    pub(crate) fn new(global: Arc<[SharedPermission<Sv, S>]>, groups: Vec<Vec<SharedPermission<Sv, S>>>) -> Self {
        Self { global, groups }
    }

    pub(crate) async fn allow(
        &self,
        services: &Sv,
        input: &MergedInput<'_>,
        session: Option<&S>,
        request_id: &RequestId,
    ) -> bool {
        for permission in self.global.iter() {
            if !permission.0.check(services, input, session).await {
                tracing::debug!(request_id = %request_id, permission = permission.name(), "global permission denied");
                return false;
            }
        }
        if self.groups.is_empty() {
            return true;
        }
        'groups: for group in &self.groups {
            for permission in group {
                if !permission.0.check(services, input, session).await {
                    continue 'groups;
                }
            }
            return true;
        }
        tracing::debug!(request_id = %request_id, "permission denied");
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{InputParts, PathParams};

    struct Fixed(&'static str, bool);

    impl Permission<(), ()> for Fixed {
        fn check<'a>(&'a self, _: &'a (), _: &'a MergedInput<'_>, _: Option<&'a ()>) -> BoxFuture<'a, bool> {
            let allowed = self.1;
            Box::pin(async move { allowed })
        }
        fn name(&self) -> &'static str {
            self.0
        }
    }

    fn p(allowed: bool) -> SharedPermission<(), ()> {
        SharedPermission::new(Fixed("fixed", allowed))
    }

    async fn allows(global: Vec<SharedPermission<(), ()>>, groups: Vec<Vec<SharedPermission<(), ()>>>) -> bool {
        let path_params = PathParams::default();
        let input = MergedInput::new(InputParts { path: "/", path_params: &path_params, query: None, body: None });
        Permissions::new(global.into(), groups).allow(&(), &input, None, &RequestId::generate()).await
    }

    #[tokio::test]
    async fn a_list_is_an_and() {
        assert!(allows(vec![], vec![vec![p(true), p(true)]]).await);
        assert!(!allows(vec![], vec![vec![p(true), p(false)]]).await);
    }

    #[tokio::test]
    async fn groups_are_an_or_of_ands() {
        assert!(allows(vec![], vec![vec![p(false)], vec![p(true), p(true)]]).await);
        assert!(!allows(vec![], vec![vec![p(false)], vec![p(true), p(false)]]).await);
    }

    #[tokio::test]
    async fn global_permissions_must_each_pass_independently() {
        assert!(!allows(vec![p(false)], vec![vec![p(true)]]).await);
        assert!(!allows(vec![p(true), p(false)], vec![]).await);
        assert!(allows(vec![p(true)], vec![]).await);
    }

    #[tokio::test]
    async fn no_permissions_allow() {
        assert!(allows(vec![], vec![]).await);
    }
}
