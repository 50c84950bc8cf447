//! Raynet's transport: one HTTP call with HTTP Basic (user e-mail + API key), `X-Instance-Name`
//! and `dateFormat=ISO8601`, under the instance's connection permits; the daily quota read
//! from `X-Ratelimit-*` headers; 429/503 backed off (the server's one backoff rule) up to the
//! configured limits; Raynet's error answers turned into [`CrmError`]s; and the JSON envelope
//! `{success, totalCount, data}` decoded.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::{Method, StatusCode, header::HeaderMap};
use secrecy::ExposeSecret;
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use url::Url;

use super::{RaynetClient, wire};
use crate::crm::{CrmError, Quota};

/// First backoff step for 429/503 without a reset time; doubled per attempt.
pub(super) const BASE_BACKOFF: Duration = Duration::from_millis(250);

impl RaynetClient {
    /// `base` + segments + trailing slash; segments are percent-encoded.
    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            path.extend(segments);
            path.push("");
        }
        url
    }

    fn note_quota(&self, headers: &HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<i64>().ok())
        };
        let limit = number("x-ratelimit-limit");
        let remaining = number("x-ratelimit-remaining");
        let reset = number("x-ratelimit-reset");
        if limit.is_none() && remaining.is_none() && reset.is_none() {
            return;
        }
        let quota = Quota {
            limit: limit.and_then(|v| u64::try_from(v).ok()),
            remaining: remaining.map(|v| u64::try_from(v).unwrap_or(0)),
            reset_at: reset.and_then(|s| Utc.timestamp_opt(s, 0).single()),
        };
        if let Ok(mut slot) = self.limits.quota.lock() {
            *slot = Some(quota);
        }
    }

    /// One call with the connection limit, quota tracking and 429/503 backoff.
    pub(super) async fn call(
        &self,
        method: Method,
        url: Url,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<bytes::Bytes, CrmError> {
        let mut attempt: u32 = 0;
        loop {
            let permit = self
                .limits
                .permits
                .acquire()
                .await
                .map_err(|_| CrmError::Upstream("the CRM client is shut down".into()))?;
            let mut request = self
                .http
                .request(method.clone(), url.clone())
                .basic_auth(&self.user, Some(self.key.expose_secret()))
                .header("X-Instance-Name", &self.instance)
                .header(reqwest::header::ACCEPT, "application/json")
                .query(&[("dateFormat", "ISO8601")])
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let response = request.send().await.map_err(transport_error)?;
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.bytes().await.map_err(transport_error)?;
            drop(permit);
            self.note_quota(&headers);
            if status.is_success() {
                return Ok(bytes);
            }
            let error: wire::ErrorBody = serde_json::from_slice(&bytes).unwrap_or_default();
            match status {
                // Raynet names the failure in `message` (`…Exception: …`).
                StatusCode::UNAUTHORIZED => {
                    return Err(
                        if error
                            .message
                            .as_deref()
                            .is_some_and(|m| m.contains("Instance"))
                        {
                            CrmError::UnknownInstance
                        } else {
                            CrmError::BadCredentials
                        },
                    );
                }
                StatusCode::FORBIDDEN => {
                    return Err(
                        if error
                            .message
                            .as_deref()
                            .is_some_and(|m| m.contains("Blocked"))
                        {
                            CrmError::Blocked
                        } else {
                            CrmError::AccessDenied(error.text())
                        },
                    );
                }
                StatusCode::NOT_FOUND => return Err(CrmError::NotFound),
                StatusCode::BAD_REQUEST => return Err(CrmError::Invalid(error.text())),
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                    let limit_reached = status == StatusCode::TOO_MANY_REQUESTS
                        || error.kind.as_deref() == Some("RequestLimitReached");
                    let reset = reset_if_exhausted(&headers);
                    let now = Utc::now();
                    let wait = match reset {
                        Some(at) => {
                            (at - now).to_std().unwrap_or_default()
                                + crate::backoff::jitter(Duration::from_millis(250))
                        }
                        None => backoff(attempt, self.max_backoff),
                    };
                    let until =
                        reset.or_else(|| chrono::Duration::from_std(wait).ok().map(|w| now + w));
                    if wait > self.max_backoff || attempt >= self.max_retries {
                        tracing::warn!(%status, attempts = attempt + 1, ?until, "the CRM keeps refusing; giving up for now");
                        return Err(if limit_reached {
                            CrmError::RateLimited { until }
                        } else {
                            CrmError::Upstream(format!(
                                "the CRM is unavailable (HTTP {status}) {}",
                                error.text()
                            ))
                        });
                    }
                    tracing::debug!(%status, ?wait, attempt, "the CRM asked us to slow down");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                StatusCode::INTERNAL_SERVER_ERROR => {
                    let text = error.text();
                    return Err(
                        if error
                            .message
                            .as_deref()
                            .is_some_and(|m| m.contains("AccessDenied"))
                        {
                            CrmError::AccessDenied(text)
                        } else if text.is_empty() {
                            CrmError::Upstream("HTTP 500 without a message".into())
                        } else {
                            CrmError::Upstream(text)
                        },
                    );
                }
                other => {
                    return Err(CrmError::Upstream(format!(
                        "unexpected HTTP {other} {}",
                        error.text()
                    )));
                }
            }
        }
    }

    pub(super) async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
        query: &[(&str, String)],
    ) -> Result<wire::Envelope<T>, CrmError> {
        let bytes = self.call(Method::GET, url, query, None).await?;
        decode(&bytes)
    }

    pub(super) async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: &(impl Serialize + Sync),
    ) -> Result<wire::Envelope<T>, CrmError> {
        let body = serde_json::to_value(body)
            .map_err(|e| CrmError::Invalid(format!("cannot write the request: {e}")))?;
        let bytes = self.call(method, url, &[], Some(&body)).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // Updates may answer with an empty body.
            return Ok(wire::Envelope {
                success: Some(true),
                total_count: None,
                data: None,
                message: None,
            });
        }
        decode(&bytes)
    }
}

fn transport_error(e: reqwest::Error) -> CrmError {
    if e.is_timeout() {
        CrmError::Upstream("the CRM did not answer in time".into())
    } else if e.is_connect() {
        CrmError::Upstream(format!("cannot connect to the CRM: {}", e.without_url()))
    } else {
        CrmError::Upstream(format!("talking to the CRM failed: {}", e.without_url()))
    }
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<wire::Envelope<T>, CrmError> {
    let envelope: wire::Envelope<T> = serde_json::from_slice(bytes)
        .map_err(|e| CrmError::Upstream(format!("the CRM sent malformed JSON: {e}")))?;
    if envelope.success == Some(false) {
        return Err(CrmError::Upstream(
            envelope
                .message
                .unwrap_or_else(|| "the CRM answered success: false".into()),
        ));
    }
    Ok(envelope)
}

pub(super) fn data<T>(envelope: wire::Envelope<T>) -> Result<T, CrmError> {
    envelope
        .data
        .ok_or_else(|| CrmError::Upstream("the CRM's answer has no data".into()))
}

/// The reset time, when the headers say the quota is used up.
fn reset_if_exhausted(headers: &HeaderMap) -> Option<DateTime<Utc>> {
    let remaining = headers
        .get("x-ratelimit-remaining")?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()?;
    if remaining > 0 {
        return None;
    }
    let reset = headers
        .get("x-ratelimit-reset")?
        .to_str()
        .ok()?
        .trim()
        .parse::<i64>()
        .ok()?;
    Utc.timestamp_opt(reset, 0).single()
}

/// Exponential backoff with "equal jitter" from [`BASE_BACKOFF`], capped by `max`.
pub(super) fn backoff(attempt: u32, max: Duration) -> Duration {
    crate::backoff::delay(attempt, BASE_BACKOFF, max)
}
