//! Add-in access tokens: every forged or unfit token is refused with 401, valid ones (also from a
//! rotated-in key) are accepted, first sign-in binding, and the JWKS reload rules.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tests::{
    TestApp,
    entra_sim::{EntraSim, SigningKey, sign},
    mint_token_for, spawn_app_with_entra,
};

const OTHER_TENANT: &str = "0a1b2c3d-0000-4000-8000-000000000001";

async fn me(app: &TestApp, token: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .get(app.url("/api/addin/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A server trusting the simulator, one employee, and a valid token's claims for them.
async fn arrange() -> (TestApp, EntraSim, Value) {
    let (app, sim) = spawn_app_with_entra().await;
    let employee = app.create_employee("anna@example.com", false).await;
    let claims = sim.default_claims(&tests::server::oid_for(&employee), "anna@example.com");
    (app, sim, claims)
}

fn with(claims: &Value, overrides: Value) -> Value {
    let mut claims = claims.clone();
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let (status, body) = me(app, token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
}

#[tokio::test]
async fn a_valid_token_is_accepted_and_names_the_employee() {
    let (app, sim, claims) = arrange().await;
    let (status, body) = me(&app, &sign(&sim.current_key(), &claims)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["email"], "anna@example.com");
    assert_eq!(body["name"], "Simulated User");
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let (app, sim, claims) = arrange().await;
    let token = sign(
        &sim.current_key(),
        &with(
            &claims,
            json!({"aud": "11111111-2222-3333-4444-555555555555"}),
        ),
    );
    assert_refused(&app, &token, "wrong audience").await;
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let (app, sim, claims) = arrange().await;
    let iss = format!("https://evil.example.com/{}/v2.0", sim.tenant());
    let token = sign(&sim.current_key(), &with(&claims, json!({ "iss": iss })));
    assert_refused(&app, &token, "wrong issuer").await;
}

#[tokio::test]
async fn a_token_whose_issuer_names_another_tenant_than_tid_is_refused() {
    let (app, sim, claims) = arrange().await;
    let mut settings = server::identity::office365::Office365Settings::load(&app.state)
        .await
        .unwrap();
    settings.extra_tenants = vec![OTHER_TENANT.into()];
    settings.save(&app.state).await.unwrap();
    // Both tenants are allowed, but the issuer is the home tenant's while tid is the other.
    let token = sign(
        &sim.current_key(),
        &with(&claims, json!({"tid": OTHER_TENANT})),
    );
    assert_refused(&app, &token, "issuer/tid mismatch").await;
}

#[tokio::test]
async fn a_token_from_a_tenant_not_allowed_is_refused() {
    let (app, sim, claims) = arrange().await;
    let iss = format!("{}/{OTHER_TENANT}/v2.0", sim.authority());
    let token = sign(
        &sim.current_key(),
        &with(&claims, json!({"tid": OTHER_TENANT, "iss": iss})),
    );
    assert_refused(&app, &token, "tenant not allowed").await;
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let (app, sim, claims) = arrange().await;
    let now = chrono::Utc::now().timestamp();
    let token = sign(
        &sim.current_key(),
        &with(
            &claims,
            json!({"iat": now - 7200, "nbf": now - 7200, "exp": now - 600}),
        ),
    );
    assert_refused(&app, &token, "expired").await;
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused() {
    let (app, sim, claims) = arrange().await;
    let now = chrono::Utc::now().timestamp();
    let token = sign(
        &sim.current_key(),
        &with(&claims, json!({"nbf": now + 900, "exp": now + 4500})),
    );
    assert_refused(&app, &token, "not yet valid").await;
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let (app, sim, claims) = arrange().await;
    let header = json!({"alg": "none", "typ": "JWT", "kid": sim.current_key().kid});
    let token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_refused(&app, &token, "alg none").await;
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_public_key_is_refused() {
    let (app, sim, claims) = arrange().await;
    let key = sim.current_key();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(key.public_pem.as_bytes()),
    )
    .unwrap();
    assert_refused(&app, &token, "HS256 with the public key").await;
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_refused() {
    let (app, _sim, claims) = arrange().await;
    let token = sign(&SigningKey::generate(), &claims);
    assert_refused(&app, &token, "unknown kid").await;
}

#[tokio::test]
async fn a_token_with_a_tampered_payload_is_refused() {
    let (app, sim, claims) = arrange().await;
    let token = sign(&sim.current_key(), &claims);
    let parts: Vec<&str> = token.split('.').collect();
    let forged = with(
        &claims,
        json!({"name": "Mallory", "scp": "access_as_user admin"}),
    );
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    assert_refused(&app, &tampered, "tampered payload").await;
    // The untouched token still works, so the refusal was the tampering.
    assert_eq!(me(&app, &token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_token_without_the_required_scope_is_refused() {
    let (app, sim, claims) = arrange().await;
    for scp in [json!(null), json!("User.Read Mail.Read")] {
        let token = sign(&sim.current_key(), &with(&claims, json!({ "scp": scp })));
        assert_refused(&app, &token, &format!("scope {scp}")).await;
    }
}

#[tokio::test]
async fn an_app_only_token_is_refused() {
    let (app, sim, claims) = arrange().await;
    let token = sign(
        &sim.current_key(),
        &with(
            &claims,
            json!({"scp": null, "idtyp": "app", "roles": ["access_as_application"]}),
        ),
    );
    assert_refused(&app, &token, "app-only").await;
    // Also with our scope smuggled in: an app identity is never a user.
    let token = sign(&sim.current_key(), &with(&claims, json!({"idtyp": "app"})));
    assert_refused(&app, &token, "app-only with scp").await;
}

#[tokio::test]
async fn requests_without_a_bearer_token_are_refused() {
    let (app, _sim, _) = arrange().await;
    let response = app
        .client
        .get(app.url("/api/addin/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .client
        .get(app.url("/api/addin/me"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_signed_by_a_rotated_in_key_is_accepted() {
    let (app, sim, claims) = arrange().await;
    assert_eq!(
        me(&app, &sign(&sim.current_key(), &claims)).await.0,
        StatusCode::OK
    );
    let old_kid = sim.current_key().kid;
    let new_kid = sim.rotate();
    assert_ne!(old_kid, new_kid);
    let fresh = with(&claims, json!({"uti": "after-rotation"}));
    let (status, body) = me(&app, &sign(&sim.current_key(), &fresh)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn reloads_on_unknown_keys_happen_at_most_once_per_five_minutes() {
    let (app, sim, claims) = arrange().await;
    assert_eq!(
        me(&app, &sign(&sim.current_key(), &claims)).await.0,
        StatusCode::OK
    );
    let after_first_load = sim.jwks_hits();
    for _ in 0..3 {
        let token = sign(&SigningKey::generate(), &claims);
        assert_refused(&app, &token, "unknown kid").await;
    }
    assert_eq!(sim.jwks_hits(), after_first_load + 1);
}

#[tokio::test]
async fn the_last_good_keys_are_kept_when_a_reload_fails() {
    let (app, sim, claims) = arrange().await;
    assert_eq!(
        me(&app, &sign(&sim.current_key(), &claims)).await.0,
        StatusCode::OK
    );
    sim.set_jwks_failing(true);
    let before = sim.jwks_hits();
    assert_refused(&app, &sign(&SigningKey::generate(), &claims), "unknown kid").await;
    assert_eq!(sim.jwks_hits(), before + 1, "a reload was attempted");
    let fresh = with(&claims, json!({"uti": "after-failed-reload"}));
    let (status, body) = me(&app, &sign(&sim.current_key(), &fresh)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn the_first_sign_in_binds_by_preferred_username_ignoring_case() {
    let (app, sim) = spawn_app_with_entra().await;
    let employee = app.create_employee("Petr.Novak@Example.cz", false).await;
    let token =
        sim.mint(&json!({"oid": "oid-petr", "preferred_username": "PETR.NOVAK@example.CZ"}));
    let (status, body) = me(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["employee_id"], employee.id.as_str());
    let bound = app
        .state
        .store
        .employee(&employee.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bound.entra_oid.as_deref(), Some("oid-petr"));
    assert_eq!(bound.entra_tid.as_deref(), Some(sim.tenant().as_str()));
}

#[tokio::test]
async fn the_first_sign_in_binds_by_upn_when_preferred_username_is_missing() {
    let (app, sim) = spawn_app_with_entra().await;
    let employee = app.create_employee("jana@example.com", false).await;
    let token = sim.mint(&json!({
        "oid": "oid-jana", "preferred_username": null, "upn": "Jana@Example.com"
    }));
    let (status, body) = me(&app, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["employee_id"], employee.id.as_str());
}

#[tokio::test]
async fn the_binding_survives_a_change_of_the_office_365_e_mail() {
    let (app, sim) = spawn_app_with_entra().await;
    let employee = app.create_employee("eva@example.com", false).await;
    let token = mint_token_for(&sim, &employee);
    assert_eq!(me(&app, &token).await.0, StatusCode::OK);
    app.state
        .store
        .update_employee(
            &employee.id,
            server::store::EmployeeChanges {
                o365_email: Some("eva.new@example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // Same person (oid), old e-mail in the token: still the same employee.
    let again = sim.mint(&json!({
        "oid": tests::server::oid_for(&employee), "preferred_username": "eva@example.com",
        "uti": "second"
    }));
    let (status, body) = me(&app, &again).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["employee_id"], employee.id.as_str());
    // Someone else with the old e-mail does not take over the employee.
    let other = sim.mint(&json!({"oid": "someone-else", "preferred_username": "eva@example.com"}));
    assert_eq!(me(&app, &other).await.0, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_unknown_person_gets_403_with_a_message_for_the_pane() {
    let (app, sim) = spawn_app_with_entra().await;
    let token = sim.mint(&json!({"preferred_username": "stranger@example.com"}));
    let (status, body) = me(&app, &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_registered");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("ask your CRM Bridge admin"), "{message}");
}

#[tokio::test]
async fn a_deactivated_employee_gets_403() {
    let (app, sim) = spawn_app_with_entra().await;
    let employee = app.create_employee("gone@example.com", false).await;
    let token = mint_token_for(&sim, &employee);
    assert_eq!(me(&app, &token).await.0, StatusCode::OK);
    app.state
        .store
        .update_employee(
            &employee.id,
            server::store::EmployeeChanges {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // The in-memory copy learns of the change from the store's announcement, a moment later.
    let refused = tests::stack::eventually(std::time::Duration::from_secs(1), || async {
        me(&app, &token).await.0 == StatusCode::FORBIDDEN
    })
    .await;
    assert!(refused.is_some(), "still served after 1 s");
    let (status, body) = me(&app, &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_registered");
}

#[tokio::test]
async fn the_simulator_mints_tokens_over_http_and_rotates_keys() {
    let (app, sim) = spawn_app_with_entra().await;
    let employee = app.create_employee("http@example.com", false).await;
    let endpoints = sim.endpoints();
    let minted: Value = app
        .client
        .post(&endpoints.token_url)
        .json(&json!({"oid": tests::server::oid_for(&employee), "preferred_username": "http@example.com"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = minted["access_token"].as_str().unwrap();
    assert_eq!(me(&app, token).await.0, StatusCode::OK);
    let rotated: Value = app
        .client
        .post(format!("{}/_sim/rotate", sim.authority()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rotated["kid"], sim.current_key().kid.as_str());
    let metadata: Value = app
        .client
        .get(&endpoints.metadata_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["issuer"], endpoints.issuer.as_str());
    assert_eq!(metadata["jwks_uri"], endpoints.jwks_url.as_str());
}
