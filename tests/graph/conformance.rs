//! Spec conformance: every answer the Graph simulator gave while the connector ran every
//! operation is checked against `specs/graph-calendar-openapi.json` (the schema of the
//! operation's `2XX` answer, or the OData error of `default`), with the status codes the spec's
//! notes give per operation.

use std::collections::BTreeSet;

use tests::spec::Spec;

use crate::{connector::exercise_every_operation, start_sim};

fn spec() -> Spec {
    Spec::load("graph-calendar-openapi.json")
}

/// The spec's path template for a concrete path (`/v1.0` removed); the short spellings Graph
/// also accepts (`/cancel`, `/calendarView/delta`) map to the namespaced ones.
fn template<'a>(spec: &'a Spec, method: &str, path: &str) -> Option<&'a str> {
    let path = path.trim_start_matches("/v1.0");
    let path = if let Some(p) = path.strip_suffix("/cancel") {
        format!("{p}/microsoft.graph.cancel")
    } else if let Some(p) = path
        .strip_suffix("/calendarView/delta")
        .or_else(|| path.strip_suffix("/calendarView/delta()"))
    {
        format!("{p}/calendarView/microsoft.graph.delta()")
    } else {
        path.to_owned()
    };
    spec.template(method, &path)
}

/// The success status the Graph docs give per operation (the spec's `x-notes`).
fn expected_success(method: &str, tpl: &str) -> u16 {
    match method {
        "post" if tpl.ends_with("microsoft.graph.cancel") => 202,
        "post" => 201,
        "delete" => 204,
        _ => 200,
    }
}

#[tokio::test]
async fn every_answer_the_graph_simulator_gave_conforms_to_the_official_spec() {
    let spec = spec();
    let sim = start_sim().await;
    exercise_every_operation(&sim).await;
    let recorded = sim.graph().recorded();
    assert!(
        recorded.len() > 25,
        "only {} exchanges recorded",
        recorded.len()
    );
    let mut errors = Vec::new();
    let mut covered = BTreeSet::new();
    let mut statuses = BTreeSet::new();
    for x in &recorded {
        let method = x.method.to_lowercase();
        let Some(tpl) = template(&spec, &method, &x.path) else {
            errors.push(format!("{} {}: not in the spec", x.method, x.path));
            continue;
        };
        covered.insert(format!("{} {tpl}", x.method));
        statuses.insert(x.status);
        let label = format!("{} {}?{} → {}", x.method, x.path, x.query, x.status);
        let op = spec.operation(tpl, &method);
        if (200..300).contains(&x.status) {
            let expected = expected_success(&method, tpl);
            if x.status != expected {
                errors.push(format!("{label}: Graph answers {expected} here"));
            }
            let response = spec.resolve(&op["responses"]["2XX"]);
            match (
                response["content"]["application/json"].get("schema"),
                &x.body,
            ) {
                (Some(schema), Some(body)) => spec.validate(schema, body, &label, &mut errors),
                (Some(_), None) => errors.push(format!("{label}: no JSON body")),
                (None, Some(body)) => {
                    errors.push(format!("{label}: a body where none is specified: {body}"))
                }
                (None, None) => {}
            }
        } else {
            let response = spec.resolve(&op["responses"]["default"]);
            let schema = &response["content"]["application/json"]["schema"];
            match &x.body {
                Some(body) => spec.validate(schema, body, &label, &mut errors),
                None => errors.push(format!("{label}: an error without an OData body")),
            }
        }
    }
    assert!(
        errors.is_empty(),
        "{} deviations:\n{}",
        errors.len(),
        errors.join("\n")
    );
    for expected in [
        "GET /users/{user-id}/events",
        "POST /users/{user-id}/events",
        "GET /users/{user-id}/events/{event-id}",
        "PATCH /users/{user-id}/events/{event-id}",
        "DELETE /users/{user-id}/events/{event-id}",
        "POST /users/{user-id}/events/{event-id}/microsoft.graph.cancel",
        "GET /users/{user-id}/calendarView",
        "GET /users/{user-id}/calendarView/microsoft.graph.delta()",
        "POST /subscriptions",
        "PATCH /subscriptions/{subscription-id}",
        "DELETE /subscriptions/{subscription-id}",
    ] {
        assert!(
            covered.contains(expected),
            "{expected} was not exercised; covered: {covered:?}"
        );
    }
    for status in [200, 201, 202, 204, 400, 401, 403, 404, 410, 429, 503] {
        assert!(
            statuses.contains(&status),
            "no {status} answer was checked: {statuses:?}"
        );
    }
}

#[test]
fn the_schema_check_catches_a_wrong_type_a_bad_enum_and_a_missing_error_code() {
    let spec = spec();
    let event = serde_json::json!({"$ref": "#/components/schemas/microsoft.graph.event"});
    let mut errors = Vec::new();
    spec.validate(
        &event,
        &serde_json::json!({"id": "x", "subject": "s", "isAllDay": false, "showAs": "busy",
            "start": {"dateTime": "2026-01-01T00:00:00", "timeZone": "UTC"}}),
        "",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    spec.validate(
        &event,
        &serde_json::json!({"id": 5, "isAllDay": "no", "showAs": "sleeping", "start": {"dateTime": 1}}),
        "",
        &mut errors,
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
    let error =
        serde_json::json!({"$ref": "#/components/schemas/microsoft.graph.ODataErrors.ODataError"});
    let mut errors = Vec::new();
    spec.validate(
        &error,
        &serde_json::json!({"error": {"message": "m"}}),
        "",
        &mut errors,
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
}
