//! Spec conformance: every answer the simulator gave while the connector ran every operation is
//! checked against `specs/raynet-openapi.json`. Where the spec has a schema the answer must
//! validate against it; where it has only an example, the answer must have every field of the
//! example at every nesting level with the same JSON type (null allowed on either side).

use std::collections::BTreeSet;

use serde_json::Value;
use tests::spec::{Spec, same_shape};

use crate::{contract::exercise_every_operation, start_sim};

fn spec() -> Spec {
    Spec::load("raynet-openapi.json")
}

/// The spec path template matching a concrete path, e.g. `/company/5/` → `/company/{companyId}/`.
/// `/{entity}/ext/{extId}/` (documented in the text of the external id section) answers as the
/// entity's detail.
fn template<'a>(spec: &'a Spec, method: &str, path: &str) -> Option<&'a str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    if segments.len() == 3 && segments[1] == "ext" {
        let slash = if path.ends_with('/') { "/" } else { "" };
        return spec.template(method, &format!("/{}/1{slash}", segments[0]));
    }
    spec.template(method, path)
}

/// The 429 body the spec's introduction shows.
fn limit_example(spec: &Spec) -> Value {
    let text = spec.doc()["info"]["description"]
        .as_str()
        .unwrap_or_default();
    let at = text
        .find("429 Too Many Requests")
        .expect("the spec describes 429");
    let rest = &text[at..];
    let start = rest.find('{').unwrap();
    let end = rest.find('}').unwrap();
    serde_json::from_str(&rest[start..=end]).expect("the 429 example is JSON")
}

#[tokio::test]
async fn every_answer_the_simulator_gave_conforms_to_the_official_spec() {
    let spec = spec();
    let sim = start_sim(true).await;
    exercise_every_operation(&sim).await;
    let recorded = sim.sim.recorded();
    assert!(
        recorded.len() > 30,
        "only {} exchanges recorded",
        recorded.len()
    );
    let limit_body = limit_example(&spec);
    let mut errors = Vec::new();
    let mut covered = BTreeSet::new();
    let mut checked = 0;
    for x in recorded
        .iter()
        .filter(|x| !x.injected || x.status == 429 || x.status == 500)
    {
        let method = x.method.to_lowercase();
        let Some(tpl) = template(&spec, &method, &x.path) else {
            errors.push(format!("{} {}: not in the spec", x.method, x.path));
            continue;
        };
        covered.insert(format!("{} {tpl}", x.method));
        let label = format!("{} {} → {}", x.method, x.path, x.status);
        let Some(body) = &x.body else {
            errors.push(format!("{label}: the answer is not JSON"));
            continue;
        };
        let op = spec.operation(tpl, &method);
        let response = &op["responses"][x.status.to_string()];
        let content = &response["content"]["application/json"];
        if let Some(schema) = content.get("schema") {
            spec.validate(schema, body, &label, &mut errors);
            checked += 1;
        } else if let Some(example) = content.get("example") {
            same_shape(example, body, &label, &mut errors);
            checked += 1;
        } else if x.status == 429 {
            same_shape(&limit_body, body, &label, &mut errors);
            checked += 1;
        } else if x.status >= 400 {
            // Statuses the operation does not list (401, 403, 404) carry `{message}`.
            if !body["message"].is_string() {
                errors.push(format!("{label}: an error without a message: {body}"));
            }
            checked += 1;
        } else if response.is_null() {
            errors.push(format!(
                "{label}: the spec lists no {} for this operation",
                x.status
            ));
        }
    }
    assert!(
        errors.is_empty(),
        "{} deviations:\n{}",
        errors.len(),
        errors.join("\n")
    );
    for expected in [
        "GET /company/",
        "GET /company/{companyId}/",
        "GET /person/",
        "PUT /person/",
        "GET /businessCase/{businessCaseId}/",
        "GET /project/",
        "PUT /email/",
        "POST /email/{emailId}/",
        "GET /email/{emailId}/",
        "PUT /meeting/",
        "POST /meeting/{meetingId}/",
        "GET /meeting/{meetingId}/",
        "DELETE /meeting/{meetingId}/",
        "GET /userAccount/",
        "GET /webhook/",
        "PUT /webhook/",
        "DELETE /webhook/{uuid}/",
    ] {
        assert!(
            covered.contains(expected),
            "{expected} was not exercised; covered: {covered:?}"
        );
    }
    assert!(checked > 30);
}

#[test]
fn the_shape_check_catches_a_missing_field_and_a_wrong_type() {
    let example: Value =
        serde_json::json!({"a": 1, "b": {"c": "x"}, "d": [{"e": true}], "f": null});
    let mut errors = Vec::new();
    same_shape(
        &example,
        &serde_json::json!({"a": 2, "b": {"c": "y"}, "d": [{"e": false}], "f": 3}),
        "",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    same_shape(
        &example,
        &serde_json::json!({"a": "2", "b": {}, "d": [{"e": 1}]}),
        "",
        &mut errors,
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
}

#[test]
fn the_schema_check_catches_a_wrong_type_and_a_missing_required_field() {
    let spec = spec();
    let insert = serde_json::json!({"$ref": "#/components/schemas/Insert201Response"});
    let mut errors = Vec::new();
    spec.validate(
        &insert,
        &serde_json::json!({"success": true, "data": {"id": 5}}),
        "",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    spec.validate(
        &insert,
        &serde_json::json!({"success": "true", "data": {"id": "5"}}),
        "",
        &mut errors,
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    let webhook =
        &spec.operation("/webhook/", "put")["requestBody"]["content"]["application/json"]["schema"];
    let mut errors = Vec::new();
    spec.validate(webhook, &serde_json::json!({"url": "x"}), "", &mut errors);
    assert_eq!(errors.len(), 1, "{errors:?}");
}
