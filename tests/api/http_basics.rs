//! Probes, metrics, OpenAPI and the one JSON error shape.

use reqwest::StatusCode;
use serde_json::Value;
use tests::spawn_app;

async fn error_code(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("an error body in JSON");
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let message = body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (status, code, message)
}

#[tokio::test]
async fn healthz_and_readyz_answer_ok() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "ok", "{path}");
    }
}

#[tokio::test]
async fn metrics_are_in_prometheus_text_format_and_count_requests() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.client.get(app.url("/healthz")).send().await.unwrap();
    }
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("crm_bridge_http_requests_total{") && l.contains("route=\"/healthz\"")
        })
        .unwrap_or_else(|| panic!("no request counter for /healthz in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(
        text.contains("crm_bridge_http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn the_openapi_document_lists_the_json_endpoints() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/healthz", "/readyz"] {
        assert!(doc["paths"][path].is_object(), "{path} missing from {doc}");
    }
}

#[tokio::test]
async fn every_documented_error_answer_has_the_error_shape_and_admin_endpoints_declare_401_and_403()
{
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut problems = Vec::new();
    let mut errors_seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses {
                if status.as_str() < "400" {
                    continue;
                }
                errors_seen += 1;
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                if schema != "#/components/schemas/ErrorBody" {
                    problems.push(format!("{method} {path} {status}: {response}"));
                }
                if response["description"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty()
                {
                    problems.push(format!("{method} {path} {status}: no description"));
                }
            }
            let admin_only = path.starts_with("/api/admin/")
                && !["/api/admin/session", "/api/admin/password"].contains(&path.as_str());
            if admin_only && !(responses.contains_key("401") && responses.contains_key("403")) {
                problems.push(format!("{method} {path}: 401 or 403 not declared"));
            }
        }
    }
    assert!(
        errors_seen > 50,
        "only {errors_seen} error answers documented"
    );
    assert!(
        doc["components"]["schemas"]["ErrorBody"].is_object(),
        "the error shape is not a component"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let app = spawn_app().await;
    for request in [
        app.client.get(app.url("/api/no-such-thing")),
        app.client.post(app.url("/api/no-such-thing")),
        app.client.get(app.url("/no-such-file.html")),
    ] {
        let (status, code, _) = error_code(request.send().await.unwrap()).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "not_found")
        );
    }
}

#[tokio::test]
async fn a_wrong_method_gets_a_json_405() {
    let app = spawn_app().await;
    let (status, code, _) =
        error_code(app.client.post(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
}

#[tokio::test]
async fn an_oversize_body_gets_a_json_413() {
    let app = spawn_app().await;
    let body = vec![b'a'; 2 * 1024 * 1024];
    let (status, code, _) = error_code(
        app.client
            .post(app.url("/api/no-such-thing"))
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = response
        .headers()
        .get("x-request-id")
        .expect("a request id");
    assert!(uuid::Uuid::parse_str(id.to_str().unwrap()).is_ok());
}

#[tokio::test]
async fn the_public_origin_is_allowed_by_cors_and_others_are_not() {
    let app = tests::spawn_app_with(tests::TestDb::for_this_run().await, |c| {
        c.server.public_url = "https://addin.example.cz".into();
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/healthz"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .send()
    };
    let allowed = preflight("https://addin.example.cz").await.unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://addin.example.cz")
    );
    let denied = preflight("https://evil.example.com").await.unwrap();
    assert!(
        denied
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}
