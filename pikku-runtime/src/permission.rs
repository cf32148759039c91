//! Permissions: `#[pikku_auth]` (services, session) and `#[pikku_permission]` (services, data, session)
//! checks, combined as an OR of AND-groups, plus global permissions that must each pass as well.
//!
//! They run after the auth gate and after the input is parsed, so a permission may look at the data: it
//! reads its view from the same [`MergedInput`] the function's input was read from, not from the request
//! again. A view that cannot be read from an input the function accepted is the application's mistake: the
//! request gets a 500 and the log names the permission and the field, never a silent 403.

use std::any::TypeId;
use std::sync::Arc;

use crate::input::{InputError, InputFields, MergedInput};
use crate::middleware::BoxFuture;
use crate::request_id::RequestId;

/// A permission check. `#[pikku_auth]` and `#[pikku_permission]` implement it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a pikku permission",
    note = "mark an `async fn(services, session) -> bool` with `#[pikku_auth]`, or an `async fn(services, data, session) -> bool` with `#[pikku_permission]`"
)]
pub trait Permission<Sv, S>: Send + Sync + 'static {
    /// Decides whether the request may proceed. A `pikku_auth` check without a session is `false`; a
    /// `pikku_permission` reads its view with [`MergedInput::deserialize`].
    ///
    /// # Errors
    /// The [`InputError`] of a data view that cannot be read from the input: the request gets a 500 (the
    /// view does not fit what the function accepts), with the error in the log.
    fn check<'a>(
        &'a self,
        services: &'a Sv,
        input: &'a MergedInput<'_>,
        session: Option<&'a S>,
    ) -> BoxFuture<'a, Result<bool, InputError>>;

    /// The name `info` prints.
    fn name(&self) -> &'static str;

    /// The data view the check reads from the input, if any: start-up compares its fields with the
    /// parameters of the routes it guards.
    fn data_view(&self) -> Option<DataView> {
        None
    }
}

/// The data a `#[pikku_permission]` reads from the input: its type and the field names it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataView {
    /// The view's type as written (`UserScoped`).
    pub type_name: &'static str,
    /// The names it reads (see [`InputFields`]).
    pub fields: InputFields,
}

/// A `#[pikku_auth]` or `#[pikku_permission]`'s registration, collected through `inventory`: a route that
/// names a permission instead of a function is told to use it as one.
#[derive(Debug)]
pub struct PermissionDef {
    /// The permission's name.
    pub name: &'static str,
    /// The source file.
    pub file: &'static str,
    /// The source line.
    pub line: u32,
    /// The `TypeId` of the value under the permission's name.
    pub permission_type: fn() -> TypeId,
}

inventory::collect!(PermissionDef);

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

    /// The data view the permission reads, if any.
    pub fn data_view(&self) -> Option<DataView> {
        self.0.data_view()
    }

    async fn run_check(
        &self,
        services: &Sv,
        input: &MergedInput<'_>,
        session: Option<&S>,
    ) -> Result<bool, UnreadableView> {
        self.0.check(services, input, session).await.map_err(|error| UnreadableView {
            permission: self.name(),
            view: self.data_view().map_or("?", |view| view.type_name),
            error,
        })
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

/// A permission whose data view could not be read from the input.
#[derive(Debug)]
pub(crate) struct UnreadableView {
    pub(crate) permission: &'static str,
    pub(crate) view: &'static str,
    pub(crate) error: InputError,
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

    /// Every permission the function is checked against: the global ones, then the function's own.
    pub(crate) fn all(&self) -> impl Iterator<Item = &SharedPermission<Sv, S>> {
        self.global.iter().chain(self.groups.iter().flatten())
    }

    /// Whether the request may proceed. A view that cannot be read stops the check at once, whatever
    /// another group would say: the mistake shows on every request that reaches it, not on some.
    pub(crate) async fn allow(
        &self,
        services: &Sv,
        input: &MergedInput<'_>,
        session: Option<&S>,
        request_id: &RequestId,
    ) -> Result<bool, UnreadableView> {
        for permission in self.global.iter() {
            if !permission.run_check(services, input, session).await? {
                tracing::debug!(request_id = %request_id, permission = permission.name(), "global permission denied");
                return Ok(false);
            }
        }
        if self.groups.is_empty() {
            return Ok(true);
        }
        'groups: for group in &self.groups {
            for permission in group {
                if !permission.run_check(services, input, session).await? {
                    continue 'groups;
                }
            }
            return Ok(true);
        }
        tracing::debug!(request_id = %request_id, "permission denied");
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::{InputParts, PathParams};

    struct Fixed(&'static str, bool);

    impl Permission<(), ()> for Fixed {
        fn check<'a>(
            &'a self,
            _: &'a (),
            _: &'a MergedInput<'_>,
            _: Option<&'a ()>,
        ) -> BoxFuture<'a, Result<bool, InputError>> {
            let allowed = self.1;
            Box::pin(async move { Ok(allowed) })
        }
        fn name(&self) -> &'static str {
            self.0
        }
    }

    /// Reads a view that needs `userId`, which the empty input of these tests never has.
    struct NeedsUserId;

    impl Permission<(), ()> for NeedsUserId {
        fn check<'a>(
            &'a self,
            _: &'a (),
            input: &'a MergedInput<'_>,
            _: Option<&'a ()>,
        ) -> BoxFuture<'a, Result<bool, InputError>> {
            #[derive(serde::Deserialize)]
            #[serde(rename_all = "camelCase")]
            struct UserScoped {
                #[allow(dead_code)]
                user_id: String,
            }
            Box::pin(async move { input.deserialize::<UserScoped>().map(|_| true) })
        }
        fn name(&self) -> &'static str {
            "needs_user_id"
        }
        fn data_view(&self) -> Option<DataView> {
            Some(DataView { type_name: "UserScoped", fields: InputFields::Named(&["userId"]) })
        }
    }

    fn p(allowed: bool) -> SharedPermission<(), ()> {
        SharedPermission::new(Fixed("fixed", allowed))
    }

    async fn verdict(
        global: Vec<SharedPermission<(), ()>>,
        groups: Vec<Vec<SharedPermission<(), ()>>>,
    ) -> Result<bool, UnreadableView> {
        let path_params = PathParams::default();
        let input = MergedInput::new(InputParts { path: "/", path_params: &path_params, query: None, body: None });
        Permissions::new(global.into(), groups).allow(&(), &input, None, &RequestId::generate()).await
    }

    async fn allows(global: Vec<SharedPermission<(), ()>>, groups: Vec<Vec<SharedPermission<(), ()>>>) -> bool {
        verdict(global, groups).await.expect("every view is readable")
    }

    #[tokio::test]
    async fn an_unreadable_view_is_an_error_naming_the_permission_and_the_field_not_a_denial() {
        let unreadable = SharedPermission::new(NeedsUserId);
        // Even where another group would allow: the mistake shows on every request that reaches it.
        let error = verdict(vec![], vec![vec![unreadable], vec![p(true)]]).await.expect_err("the view cannot be read");
        assert_eq!(error.permission, "needs_user_id");
        assert_eq!(error.view, "UserScoped");
        assert_eq!(error.error.field.as_deref(), Some("userId"));
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
