//! The error answers of the OpenAPI document, defined once: each is a type an endpoint's
//! `#[utoipa::path(responses(...))]` names beside its success answer, such as
//! `responses((status = 200, body = X), AdminOnly, Invalid)`. Every one carries the one error
//! shape, [`ErrorBody`].

use std::collections::BTreeMap;

use utoipa::{
    IntoResponses, ToSchema,
    openapi::{
        RefOr,
        content::Content,
        response::{Response, ResponseBuilder},
        schema::Ref,
    },
};

use crate::error::ErrorBody;

/// One error answer with `description`, its body the error shape.
fn error_response(description: &str) -> RefOr<Response> {
    let schema = Ref::from_schema_name(ErrorBody::name());
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
        .into()
}

/// Declares unit types whose OpenAPI responses are the given statuses with descriptions.
macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => [$(($status:literal, $description:literal)),+];)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $name;

            impl IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    BTreeMap::from([
                        $(($status.to_owned(), error_response($description)),)+
                    ])
                }
            }
        )+
    };
}

error_responses! {
    /// 400: the request could not be understood.
    BadRequest => [("400", "The request could not be understood (`bad_request`).")];
    /// 401: signed out, or credentials that are not valid.
    Unauthorized => [("401", "Sign-in needed, or the credentials are not valid (`unauthorized`).")];
    /// 401 and 403: an admin-only endpoint (the admin role is needed, and CSRF for changes).
    AdminOnly => [
        ("401", "Sign in to the admin UI first (`unauthorized`)."),
        ("403", "The admin role is needed, or the CSRF token is missing (`forbidden`, `csrf`).")
    ];
    /// 403: signed in, but not allowed.
    Forbidden => [("403", "Not allowed (`forbidden`).")];
    /// 404: no such resource.
    NotFound => [("404", "No such resource (`not_found`).")];
    /// 409: conflicts with the current state.
    Conflict => [("409", "Conflicts with the current state (`conflict`).")];
    /// 422: parsed, but failed validation.
    Invalid => [("422", "Failed validation; `fields` tells what is wrong (`invalid`).")];
    /// 429: too many attempts.
    TooManyRequests => [("429", "Too many attempts; see `Retry-After` (`too_many_requests`).")];
    /// 502: the CRM or Microsoft failed.
    Upstream => [("502", "The CRM or Microsoft failed (`upstream_error`, or a more precise code).")];
    /// 503: a dependency is not available or not configured.
    Unavailable => [("503", "A dependency is not available or not configured (`unavailable`).")];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_only_declares_401_and_403_with_the_error_shape() {
        let responses = AdminOnly::responses();
        assert_eq!(responses.keys().collect::<Vec<_>>(), ["401", "403"]);
        let json = serde_json::to_value(&responses["403"]).unwrap_or_default();
        assert_eq!(
            json["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody"
        );
    }
}
