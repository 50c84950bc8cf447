//! CRM Bridge server: connects Raynet CRM with the Outlook add-in.
//!
//! The library exposes [`app`] (the router for a state) and [`serve`] (listener + shutdown), so
//! the binary, the tests and the benchmarks run exactly the same server.

pub mod activities;
pub mod addin;
pub mod admin;
pub mod api_responses;
pub mod background;
pub mod backoff;
pub mod caches;
pub mod calendar;
pub mod cli;
pub mod config;
pub mod crm;
pub mod email;
pub mod error;
pub mod fsutil;
pub mod graph;
pub mod http_client;
pub mod http_guard;
pub mod i18n;
pub mod identity;
pub mod items;
pub mod jobs;
pub mod metrics;
pub mod model;
#[cfg(test)]
mod module_graph;
pub mod ops;
pub mod secrets;
pub mod service_errors;
pub mod settings;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod tls;
pub mod web;

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    middleware,
    routing::get,
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::CompressionLayer,
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    sensitive_headers::SetSensitiveRequestHeadersLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;
pub use crate::state::AppState;

/// The OpenAPI document's root; every JSON endpoint registers itself through `OpenApiRouter`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "CRM Bridge API",
        description = "Raynet CRM ↔ Outlook add-in backend"
    ),
    components(schemas(error::ErrorBody))
)]
struct ApiDoc;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The JSON endpoints and their OpenAPI description.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(ops::router())
        .merge(identity::router())
        .merge(admin::router())
        .merge(addin::router())
        .merge(items::api::router())
        .merge(items::router())
        .merge(activities::router())
        .merge(calendar::admin::router())
        .merge(calendar::notifications::router())
        .split_for_parts()
}

/// The complete router for `state`, with every middleware applied.
pub fn app(state: AppState) -> Router {
    let (api, openapi) = api();
    let openapi = Arc::new(openapi);
    let config = &state.config.server;
    let router = api
        .route("/metrics", get(ops::metrics))
        .route(
            "/api/openapi.json",
            get(move || async move { Json(openapi.as_ref().clone()) }),
        )
        .merge(admin::html_router())
        .merge(addin::xml_router())
        .fallback(web::fallback)
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::record_http,
        ))
        .layer(middleware::from_fn_with_state(
            state.identity(),
            identity::session::admin_guard,
        ));

    // Outermost last: each `layer` wraps everything added before it.
    router
        .layer(RequestBodyLimitLayer::new(config.body_limit_bytes))
        .layer(DefaultBodyLimit::disable())
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout()))
        .layer(middleware::from_fn(error::log_server_errors))
        .layer(middleware::from_fn(error::json_error_shape))
        .layer(CatchPanicLayer::custom(|_| {
            error::error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal error", None)
        }))
        .layer(CompressionLayer::new())
        .layer(cors(&state.config))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::extract::Request| {
            let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %request.method(), path = %request.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
            HeaderName::from_static(crm::webhook::TOKEN_HEADER),
        ]))
        .layer(middleware::from_fn_with_state(
            http_guard::Guard::new(&state.config),
            http_guard::guard,
        ))
        .with_state(state)
}

fn cors(config: &Config) -> CorsLayer {
    let mut origins: Vec<HeaderValue> = config
        .server
        .cors_origins
        .iter()
        .chain(std::iter::once(
            &config.server.public_base(config.tls.enabled()),
        ))
        .filter_map(|o| url::Url::parse(o).ok())
        .filter_map(|u| HeaderValue::from_str(&u.origin().ascii_serialization()).ok())
        .collect();
    origins.dedup();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT_LANGUAGE,
            HeaderName::from_static("x-csrf-token"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Connects to the database, applies migrations and builds the state.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let url = config.database_url();
    let store = store::connect_and_migrate(&url, config.database.max_connections)
        .await
        .with_context(|| format!("while opening the database {}", url.redacted()))?;
    let (master_key, _) = secrets::MasterKey::load(&config)?;
    let state = AppState::new(config, store, master_key)?;
    let loaded = state
        .items
        .load(state.store.as_ref())
        .await
        .context("while loading the item cache")?;
    // Debug only: the command-line tools build the state too, and their stderr is for people.
    tracing::debug!(?loaded, "item index loaded");
    Ok(state)
}

/// Serves `state` on `listener` (HTTPS when configured) until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    for warning in state.config.check_transport()? {
        tracing::warn!("{warning}");
    }
    let pane = web::PaneFiles::of(&state.config.server);
    if !pane.has_pane().await {
        tracing::warn!("{}", pane.missing());
    }
    let tls = tls::rustls_config(&state.config).await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let background = background::start(&state, &stop_rx);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut http_stop = stop_rx.clone();
    let stopped = async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    };
    let app = app(state).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await?
        }
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                stopped.await;
                stopper.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            let std_listener = listener.into_std()?;
            axum_server::from_tcp_rustls(std_listener, tls)?
                .handle(handle)
                .serve(app)
                .await?;
        }
    }
    // Workers finish their current step; a killed process resumes from the database anyway.
    background.stop(Duration::from_secs(10)).await;
    Ok(())
}
