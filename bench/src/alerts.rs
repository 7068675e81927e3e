//! Pre-generated Alertmanager webhook notifications (payload version 4), for benchmarking
//! `omen webhook`: every alert is distinct (its own fingerprint), as in a large alert storm.

use bytes::Bytes;
use serde_json::json;

use crate::Workload;

/// What to generate.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AlertSpec {
    /// Notifications in total.
    pub notifications: usize,
    /// Alerts per notification (Alertmanager groups alerts by `group_by`).
    pub alerts_per_notification: usize,
    /// Concurrent senders; notifications are split between them.
    pub workers: usize,
    /// Label `run` on every alert, so separate runs never share fingerprints.
    pub run: String,
}

/// Generates the notifications (deterministic for a given spec).
pub fn generate_alerts(spec: &AlertSpec) -> Workload {
    let workers = spec.workers.max(1);
    let per = spec.alerts_per_notification.max(1);
    let mut bodies = vec![Vec::new(); workers];
    for n in 0..spec.notifications {
        let alerts: Vec<_> = (0..per)
            .map(|a| {
                let id = n * per + a;
                let service = format!("service-{}", id % 50);
                json!({
                    "status": "firing",
                    "labels": {
                        "alertname": "OmenBenchAlert",
                        "service": service,
                        "instance": format!("10.0.{}.{}:9100", (id / 250) % 250, id % 250),
                        "severity": "warning",
                        "run": spec.run,
                        "id": id.to_string(),
                    },
                    "annotations": {"summary": format!("bench alert {id} on {service}")},
                    "startsAt": "2026-11-23T03:00:00Z",
                    "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=up",
                    "fingerprint": format!("{:016x}", fingerprint(&spec.run, id)),
                })
            })
            .collect();
        let body = json!({
            "version": "4",
            "groupKey": format!("{{}}:{{run=\"{}\", n=\"{n}\"}}", spec.run),
            "truncatedAlerts": 0,
            "status": "firing",
            "receiver": "omen",
            "groupLabels": {"run": spec.run},
            "commonLabels": {"alertname": "OmenBenchAlert", "run": spec.run},
            "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093",
            "alerts": alerts,
        });
        bodies[n % workers].push((Bytes::from(body.to_string()), per));
    }
    Workload {
        bodies,
        samples: spec.notifications * per,
        content_type: "application/json",
        remote_write: false,
    }
}

/// FNV-1a of the run and alert id: a stable, distinct fingerprint per alert.
fn fingerprint(run: &str, id: usize) -> u64 {
    run.bytes()
        .chain(id.to_le_bytes())
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_distinct_and_split_over_workers() {
        let spec = AlertSpec {
            notifications: 10,
            alerts_per_notification: 3,
            workers: 4,
            run: "r1".into(),
        };
        let workload = generate_alerts(&spec);
        assert_eq!(workload.samples, 30);
        assert_eq!(workload.bodies.iter().map(Vec::len).sum::<usize>(), 10);
        let mut fingerprints = std::collections::BTreeSet::new();
        for (body, count) in workload.bodies.iter().flatten() {
            let value: serde_json::Value = serde_json::from_slice(body).expect("JSON");
            assert_eq!(value["version"], "4");
            let alerts = value["alerts"].as_array().expect("alerts");
            assert_eq!(alerts.len(), *count);
            for alert in alerts {
                fingerprints.insert(alert["fingerprint"].as_str().expect("fp").to_owned());
            }
        }
        assert_eq!(fingerprints.len(), 30);
    }
}
