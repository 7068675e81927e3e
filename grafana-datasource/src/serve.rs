//! Serving the plugin as Grafana expects from a backend plugin: the hashicorp go-plugin handshake
//! over stdout, then the pluginv2 gRPC services and the gRPC health service.
//!
//! Grafana launches the executable with the magic cookie `grafana_plugin_type=datasource` and
//! `PLUGIN_PROTOCOL_VERSIONS=2` in the environment, reads one line
//! `1|2|tcp|127.0.0.1:PORT|grpc` (core protocol 1, app protocol 2, network, address, protocol)
//! from its stdout, and then talks gRPC to that address. The SDK's own `Plugin::start` does not
//! register the health service name `plugin` that go-plugin's client pings, so the server is
//! assembled here from the SDK's generated services.

use std::future::Future;

use grafana_plugin_sdk::pluginv2::data_server::DataServer;
use grafana_plugin_sdk::pluginv2::diagnostics_server::DiagnosticsServer;
use grafana_plugin_sdk::pluginv2::resource_server::ResourceServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;

use crate::OmenDatasource;

/// Environment variable holding go-plugin's magic cookie, as Grafana's plugin SDKs define it.
pub const MAGIC_COOKIE_KEY: &str = "grafana_plugin_type";
/// The magic cookie's value for datasource (and all other backend) plugins.
pub const MAGIC_COOKIE_VALUE: &str = "datasource";
/// The application protocol version this plugin speaks (Grafana's pluginv2).
pub const PROTOCOL_VERSION: u32 = 2;
/// go-plugin's variable listing the protocol versions the host accepts.
pub const PROTOCOL_VERSIONS_KEY: &str = "PLUGIN_PROTOCOL_VERSIONS";
/// The service name go-plugin's gRPC client checks with the gRPC health service.
pub const HEALTH_SERVICE: &str = "plugin";

/// Checks the environment Grafana (go-plugin) sets; `env` reads one variable.
pub fn check_handshake(env: impl Fn(&str) -> Option<String>) -> Result<(), String> {
    if env(MAGIC_COOKIE_KEY).as_deref() != Some(MAGIC_COOKIE_VALUE) {
        return Err(format!(
            "This executable is a Grafana backend plugin and is started by Grafana, not by hand \
             (the environment lacks {MAGIC_COOKIE_KEY}={MAGIC_COOKIE_VALUE})."
        ));
    }
    if let Some(versions) = env(PROTOCOL_VERSIONS_KEY) {
        let wanted = PROTOCOL_VERSION.to_string();
        if !versions.split(',').any(|v| v.trim() == wanted) {
            return Err(format!(
                "Grafana asks for plugin protocol versions `{versions}`; this plugin speaks {PROTOCOL_VERSION}."
            ));
        }
    }
    Ok(())
}

/// The handshake line for a listener on `addr`.
pub fn handshake_line(addr: std::net::SocketAddr) -> String {
    format!("1|{PROTOCOL_VERSION}|tcp|{addr}|grpc")
}

/// Serves `plugin` on `listener` until `shutdown` completes.
pub async fn serve(
    plugin: OmenDatasource,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    let (mut reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(HEALTH_SERVICE, ServingStatus::Serving)
        .await;
    reporter
        .set_serving::<DiagnosticsServer<OmenDatasource>>()
        .await;
    reporter.set_serving::<DataServer<OmenDatasource>>().await;
    reporter
        .set_serving::<ResourceServer<OmenDatasource>>()
        .await;
    tonic::transport::Server::builder()
        .add_service(health)
        .add_service(DiagnosticsServer::new(plugin.clone()))
        .add_service(DataServer::new(plugin.clone()))
        .add_service(ResourceServer::new(plugin))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |key| {
            vars.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_cookie_is_required() {
        assert!(
            check_handshake(env(&[]))
                .expect_err("fails")
                .contains("grafana_plugin_type")
        );
        assert!(check_handshake(env(&[("grafana_plugin_type", "app")])).is_err());
        assert!(check_handshake(env(&[("grafana_plugin_type", "datasource")])).is_ok());
    }

    #[test]
    fn protocol_versions_must_include_2() {
        let ok = [
            ("grafana_plugin_type", "datasource"),
            ("PLUGIN_PROTOCOL_VERSIONS", "1, 2"),
        ];
        assert!(check_handshake(env(&ok)).is_ok());
        let bad = [
            ("grafana_plugin_type", "datasource"),
            ("PLUGIN_PROTOCOL_VERSIONS", "1"),
        ];
        assert!(check_handshake(env(&bad)).is_err());
    }

    #[test]
    fn the_handshake_line_is_go_plugin_shaped() {
        let addr = "127.0.0.1:4567".parse().expect("addr");
        assert_eq!(handshake_line(addr), "1|2|tcp|127.0.0.1:4567|grpc");
    }
}
