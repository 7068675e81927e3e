//! Receiver behaviour in the spirit of the remote-write compliance suites: content negotiation,
//! encodings, invalid data, partial batches, special values, histograms, exemplars, metadata,
//! 2.0 symbols and written-count headers, backpressure and downstream failures.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use omen_prom_adapter::proto::v1::{
    self, Exemplar, Histogram, HistogramCount, MetricMetadata, WriteRequest,
};
use omen_prom_adapter::proto::{MetricType, v2};
use omen_scoring::STALE_NAN_BITS;
use support::*;

fn request(series: Vec<v1::TimeSeries>) -> WriteRequest {
    WriteRequest {
        timeseries: series,
        metadata: vec![],
    }
}

/// Posts a 1.0 request that must be refused with 400 and returns the error body.
async fn refused(adapter: &Adapter, request: &WriteRequest) -> String {
    let response = post(&adapter.url(), V1_CONTENT_TYPE, snappy(request)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    response.text().await.expect("body")
}

#[tokio::test]
async fn valid_v1_request_forwards_originals_and_scores() {
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let body = snappy(&request(vec![wave(
        "cpu_usage",
        "a",
        1_700_000_000_000,
        60,
    )]));
    let response = post(&adapter.url(), V1_CONTENT_TYPE, body).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let originals = sink.named("cpu_usage");
    assert_eq!(originals.iter().map(|s| s.samples.len()).sum::<usize>(), 60);
    let scores = sink.named("omen_anomaly_score");
    assert_eq!(scores.len(), 1);
    let score = &scores[0];
    assert_eq!(label(score, "omen_metric").as_deref(), Some("cpu_usage"));
    assert_eq!(label(score, "instance").as_deref(), Some("a"));
    assert!(
        score.samples.len() >= 40,
        "most samples scored after warm-up: {}",
        score.samples.len()
    );
    assert!(
        score
            .samples
            .iter()
            .all(|s| s.value >= 0.0 && s.value.is_finite())
    );
    adapter.stop().await;
}

#[tokio::test]
async fn unsupported_content_types_and_encodings_get_415() {
    let (_sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let body = snappy(&request(vec![wave("up", "a", 0, 1)]));
    for (content_type, encoding) in [
        ("application/json", "snappy"),
        ("application/x-protobuf;proto=something.Else", "snappy"),
        ("application/x-protobuf", "gzip"),
    ] {
        let response = reqwest::Client::new()
            .post(adapter.url())
            .header("Content-Type", content_type)
            .header("Content-Encoding", encoding)
            .body(body.clone())
            .send()
            .await
            .expect("answer");
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type} {encoding}"
        );
        assert!(
            !response.text().await.expect("body").is_empty(),
            "a readable reason"
        );
    }
    adapter.stop().await;
}

#[tokio::test]
async fn corrupt_bodies_get_400_and_oversized_ones_413() {
    let (sink, addr) = Sink::start().await;
    let mut config = config_for(addr);
    config.limits.max_body_bytes = 4096;
    let adapter = Adapter::start(config).await;
    let not_snappy = post(
        &adapter.url(),
        V1_CONTENT_TYPE,
        b"\xff\xff\xff\xff\xffgarbage".to_vec(),
    )
    .await;
    assert_eq!(not_snappy.status(), StatusCode::BAD_REQUEST);
    assert!(not_snappy.text().await.expect("body").contains("snappy"));
    let not_protobuf = post(
        &adapter.url(),
        V1_CONTENT_TYPE,
        snap::raw::Encoder::new()
            .compress_vec(b"\x0a\xff\xff\xff")
            .expect("c"),
    )
    .await;
    assert_eq!(not_protobuf.status(), StatusCode::BAD_REQUEST);
    assert!(
        not_protobuf
            .text()
            .await
            .expect("body")
            .contains("WriteRequest")
    );
    let big: Vec<v1::TimeSeries> = (0..400)
        .map(|i| wave("m", &format!("instance-{}", i * 7919 % 10007), i, 3))
        .collect();
    let big = snappy(&request(big));
    assert!(
        big.len() > 4096,
        "the test body must exceed the limit ({} bytes)",
        big.len()
    );
    let too_big = post(&adapter.url(), V1_CONTENT_TYPE, big).await;
    assert_eq!(too_big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        sink.calls.load(Ordering::SeqCst),
        0,
        "nothing forwarded from refused bodies"
    );
    adapter.stop().await;
}

#[tokio::test]
async fn partial_batch_forwards_valid_series_and_answers_400_naming_the_bad_ones() {
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let text = refused(
        &adapter,
        &request(vec![
            wave("good_metric", "a", 0, 2),
            series(&[("job", "no-name")], &[(0, 1.0)]),
            series(&[("__name__", "dup"), ("a", "1"), ("a", "2")], &[(0, 1.0)]),
            series(&[("__name__", "bad"), ("", "x")], &[(0, 1.0)]),
        ]),
    )
    .await;
    assert!(text.contains("3 series rejected"), "{text}");
    assert!(text.contains("no metric name"), "{text}");
    assert!(text.contains("duplicate label name `a`"), "{text}");
    assert!(text.contains("empty label name"), "{text}");
    assert_eq!(
        sink.named("good_metric").len(),
        1,
        "the valid series was delivered"
    );
    adapter.stop().await;
}

#[tokio::test]
async fn series_seen_before_are_delivered_again_and_invalid_variants_still_refused() {
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let good = |t: i64| series(&[("__name__", "seen"), ("job", "a")], &[(t, 1.0)]);
    for t in [1_000, 2_000] {
        let body = snappy(&request(vec![good(t)]));
        let response = post(&adapter.url(), V1_CONTENT_TYPE, body).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "round {t}");
    }
    // The remembered series beside variants of it that fail the checks.
    let text = refused(
        &adapter,
        &request(vec![
            good(3_000),
            series(
                &[("__name__", "seen"), ("job", "a"), ("job", "b")],
                &[(3_000, 1.0)],
            ),
            series(
                &[("__name__", "seen"), ("job", "a"), ("9x", "b")],
                &[(3_000, 1.0)],
            ),
        ]),
    )
    .await;
    assert!(text.contains("2 series rejected"), "{text}");
    assert!(text.contains("duplicate label name `job`"), "{text}");
    assert!(text.contains("invalid label name `9x`"), "{text}");
    let delivered: Vec<i64> = sink
        .named("seen")
        .iter()
        .flat_map(|s| s.samples.iter().map(|sample| sample.timestamp))
        .collect();
    assert_eq!(delivered, vec![1_000, 2_000, 3_000]);
    adapter.stop().await;
}

/// Whether the compressed bytes of `body` (after its length header) arrived inside a body the sink got.
fn forwarded_as_sent(sink: &Sink, body: &[u8]) -> bool {
    let len = snap::raw::decompress_len(body).expect("a length header");
    let ops = &body[prost::encoding::encoded_len_varint(len as u64)..];
    sink.bodies
        .lock()
        .iter()
        .any(|b| b.windows(ops.len()).any(|w| w == ops))
}

/// Posts a 1.0 body that must be accepted; says whether it was forwarded as it was sent.
async fn accepted_as_sent(adapter: &Adapter, sink: &Sink, body: Vec<u8>) -> bool {
    let response = post(&adapter.url(), V1_CONTENT_TYPE, body.clone()).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    forwarded_as_sent(sink, &body)
}

#[tokio::test]
async fn requests_accepted_whole_are_forwarded_in_the_bytes_they_came_in() {
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let mut sent = request(vec![
        wave("cpu_usage", "a", 1_700_000_000_000, 60),
        wave("cpu_usage", "b", 1_700_000_000_000, 60),
    ]);
    sent.metadata.push(MetricMetadata {
        r#type: MetricType::Gauge as i32,
        metric_family_name: Bytes::from_static(b"cpu_usage"),
        help: Bytes::from_static(b"CPU in use."),
        unit: Bytes::new(),
    });
    let body = snappy(&sent);
    assert!(
        accepted_as_sent(&adapter, &sink, body).await,
        "the body is forwarded as it came"
    );
    assert_eq!(
        sink.named("cpu_usage"),
        sent.timeseries,
        "each original once"
    );
    let metadata: Vec<_> = sink
        .received
        .lock()
        .iter()
        .flat_map(|r| r.metadata.clone())
        .collect();
    assert_eq!(metadata, sent.metadata, "metadata once");
    assert_eq!(sink.named("omen_anomaly_score").len(), 2);

    // One series to relabel: the request is encoded again, its labels sorted.
    let unsorted = series(
        &[("zone", "z"), ("__name__", "temp"), ("app", "x")],
        &[(1000, 3.0)],
    );
    let body = snappy(&request(vec![
        wave("cpu_usage", "c", 1_700_000_000_000, 60),
        unsorted,
    ]));
    assert!(!accepted_as_sent(&adapter, &sink, body).await);
    assert_eq!(sink.named("temp").len(), 1);
    assert_eq!(sink.named("cpu_usage").len(), 3);

    // A field this version does not know is not passed on: the request is encoded again.
    let mut raw = prost::Message::encode_to_vec(&request(vec![wave(
        "cpu_usage",
        "d",
        1_700_000_000_000,
        60,
    )]));
    raw.extend_from_slice(&[0x28, 0x01]);
    let body = snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("compresses");
    assert!(!accepted_as_sent(&adapter, &sink, body).await);
    assert_eq!(sink.named("cpu_usage").len(), 4);
    assert_eq!(sink.named("omen_anomaly_score").len(), 4);
    adapter.stop().await;
}

#[tokio::test]
async fn unsorted_labels_are_sorted_not_rejected() {
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let body = snappy(&request(vec![series(
        &[("zone", "z"), ("__name__", "temp"), ("app", "x")],
        &[(1000, 3.0)],
    )]));
    assert_eq!(
        post(&adapter.url(), V1_CONTENT_TYPE, body).await.status(),
        StatusCode::NO_CONTENT
    );
    let forwarded = sink.named("temp");
    let names: Vec<&[u8]> = forwarded[0].labels.iter().map(|l| &l.name[..]).collect();
    assert_eq!(names, vec![&b"__name__"[..], b"app", b"zone"]);
    adapter.stop().await;
}

#[tokio::test]
async fn nan_inf_and_stale_markers_pass_bit_exact_and_staleness_reaches_the_score_series() {
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let stale = f64::from_bits(STALE_NAN_BITS);
    let mut s = wave("load", "a", 0, 30);
    s.samples.push(v1::Sample {
        value: f64::NAN,
        timestamp: 30 * 15_000,
    });
    s.samples.push(v1::Sample {
        value: f64::INFINITY,
        timestamp: 31 * 15_000,
    });
    s.samples.push(v1::Sample {
        value: stale,
        timestamp: 32 * 15_000,
    });
    let body = snappy(&request(vec![s.clone()]));
    assert_eq!(
        post(&adapter.url(), V1_CONTENT_TYPE, body).await.status(),
        StatusCode::NO_CONTENT
    );
    let original = &sink.named("load")[0];
    let bits = |v: &[v1::Sample]| {
        v.iter()
            .map(|s| (s.timestamp, s.value.to_bits()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        bits(&original.samples),
        bits(&s.samples),
        "originals forwarded bit for bit"
    );
    let score = &sink.named("omen_anomaly_score")[0];
    let last = score.samples.last().expect("score samples");
    assert_eq!(
        (last.timestamp, last.value.to_bits()),
        (32 * 15_000, STALE_NAN_BITS)
    );
    assert!(
        score
            .samples
            .iter()
            .all(|p| p.timestamp != 30 * 15_000 && p.timestamp != 31 * 15_000),
        "NaN/Inf not scored"
    );
    adapter.stop().await;
}

#[tokio::test]
async fn histograms_exemplars_and_metadata_only_requests_are_forwarded() {
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let histogram = Histogram {
        count: Some(HistogramCount::Int(5)),
        sum: 12.5,
        schema: 3,
        zero_threshold: 1e-128,
        positive_spans: vec![v1::BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_deltas: vec![2, 1],
        timestamp: 1000,
        ..Default::default()
    };
    let mut native = series(&[("__name__", "rpc_latency_seconds"), ("job", "x")], &[]);
    native.histograms.push(histogram.clone());
    let mut with_exemplar = series(
        &[("__name__", "requests_total"), ("job", "x")],
        &[(1000, 5.0)],
    );
    with_exemplar.exemplars.push(Exemplar {
        labels: vec![l("trace_id", "abc123")],
        value: 0.2,
        timestamp: 1000,
    });
    let body = snappy(&request(vec![native, with_exemplar.clone()]));
    assert_eq!(
        post(&adapter.url(), V1_CONTENT_TYPE, body).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        sink.named("rpc_latency_seconds")[0].histograms,
        vec![histogram]
    );
    assert_eq!(
        sink.named("requests_total")[0].exemplars,
        with_exemplar.exemplars
    );

    let metadata_only = WriteRequest {
        timeseries: vec![],
        metadata: vec![MetricMetadata {
            r#type: MetricType::Counter as i32,
            metric_family_name: Bytes::from_static(b"jobs_processed"),
            help: Bytes::from_static(b"Jobs processed."),
            unit: Bytes::new(),
        }],
    };
    assert_eq!(
        post(&adapter.url(), V1_CONTENT_TYPE, snappy(&metadata_only))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let forwarded_metadata: Vec<_> = sink
        .received
        .lock()
        .iter()
        .flat_map(|r| r.metadata.clone())
        .collect();
    assert_eq!(forwarded_metadata, metadata_only.metadata);
    adapter.stop().await;
}

#[tokio::test]
async fn metadata_makes_a_series_a_counter_scored_on_its_rate() {
    let (sink, addr) = Sink::start().await;
    let mut config = config_for(addr);
    config.scoring.outputs = vec![omen_prom_adapter::OutputKind::Expected];
    let adapter = Adapter::start(config).await;
    let metadata = WriteRequest {
        timeseries: vec![],
        metadata: vec![MetricMetadata {
            r#type: MetricType::Counter as i32,
            metric_family_name: Bytes::from_static(b"jobs_processed"),
            help: Bytes::new(),
            unit: Bytes::new(),
        }],
    };
    assert_eq!(
        post(&adapter.url(), V1_CONTENT_TYPE, snappy(&metadata))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    // 20 jobs per 10s = 2/s, as a counter with a reset in the middle.
    let mut value = 0.0;
    let samples: Vec<(i64, f64)> = (0..40)
        .map(|i| {
            value = if i == 20 { 20.0 } else { value + 20.0 };
            (i * 10_000, value)
        })
        .collect();
    let body = snappy(&request(vec![series(
        &[("__name__", "jobs_processed")],
        &samples,
    )]));
    assert_eq!(
        post(&adapter.url(), V1_CONTENT_TYPE, body).await.status(),
        StatusCode::NO_CONTENT
    );
    let expected = &sink.named("omen_anomaly_expected")[0];
    let last = expected.samples.last().expect("expected values");
    assert!(
        (last.value - 2.0).abs() < 0.5,
        "expected rate about 2/s, got {}",
        last.value
    );
    adapter.stop().await;
}

#[tokio::test]
async fn v2_requests_resolve_symbols_and_report_written_counts() {
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let symbols: Vec<Bytes> = [
        "",
        "__name__",
        "queue_depth",
        "job",
        "worker",
        "Queue length.",
        "trace_id",
        "t1",
    ]
    .iter()
    .map(|s| Bytes::from_static(s.as_bytes()))
    .collect();
    let samples: Vec<v1::Sample> = (0..20)
        .map(|i| v1::Sample {
            value: i as f64,
            timestamp: i * 15_000,
        })
        .collect();
    let request = v2::Request {
        symbols,
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![1, 2, 3, 4],
            samples,
            exemplars: vec![v2::Exemplar {
                labels_refs: vec![6, 7],
                value: 1.0,
                timestamp: 0,
            }],
            metadata: Some(v2::Metadata {
                r#type: MetricType::Gauge as i32,
                help_ref: 5,
                unit_ref: 0,
            }),
            ..Default::default()
        }],
    };
    let response = post(&adapter.url(), V2_CONTENT_TYPE, snappy(&request)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(
        header("x-prometheus-remote-write-samples-written").as_deref(),
        Some("20")
    );
    assert_eq!(
        header("x-prometheus-remote-write-exemplars-written").as_deref(),
        Some("1")
    );
    assert_eq!(
        header("x-prometheus-remote-write-histograms-written").as_deref(),
        Some("0")
    );
    let forwarded = &sink.named("queue_depth")[0];
    assert_eq!(label(forwarded, "job").as_deref(), Some("worker"));
    assert_eq!(&forwarded.exemplars[0].labels[0].value[..], b"t1");

    let bad = v2::Request {
        symbols: vec![Bytes::new(), Bytes::from_static(b"__name__")],
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![1, 9],
            ..Default::default()
        }],
    };
    let response = post(&adapter.url(), V2_CONTENT_TYPE, snappy(&bad)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["x-prometheus-remote-write-samples-written"],
        "0"
    );
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("outside the symbols table")
    );
    adapter.stop().await;
}

#[tokio::test]
async fn retried_requests_get_identical_scores() {
    // Each series sends at most RETRY_HORIZON samples per request, as Prometheus does in steady state.
    let per_request = omen_scoring::RETRY_HORIZON;
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let mut compared = 0;
    for step in 0..6 {
        let from = step * per_request as i64 * 15_000;
        let body = snappy(&request(vec![
            wave("mem", "a", from, per_request),
            wave("mem", "b", from, per_request),
        ]));
        let mut attempts = Vec::new();
        for _attempt in 0..2 {
            let before = sink.named("omen_anomaly_score").len();
            assert_eq!(
                post(&adapter.url(), V1_CONTENT_TYPE, body.clone())
                    .await
                    .status(),
                StatusCode::NO_CONTENT
            );
            attempts.push(sink.named("omen_anomaly_score")[before..].to_vec());
        }
        assert_eq!(
            attempts[0], attempts[1],
            "step {step}: the retry got different scores"
        );
        compared += attempts[0].iter().map(|s| s.samples.len()).sum::<usize>();
    }
    assert!(
        compared >= 40,
        "scores were compared after warm-up ({compared} samples)"
    );
    adapter.stop().await;
}

#[tokio::test]
async fn large_requests_scored_in_parts_get_the_scores_of_one_thread() {
    // 40 series x 20 samples: above the size at which a request is split across threads.
    let mut adapters = Vec::new();
    for threads in [1, 3] {
        let (sink, addr) = Sink::start().await;
        let mut config = config_for(addr);
        config.scoring.threads = threads;
        adapters.push((sink, Adapter::start(config).await));
    }
    for step in 0..3 {
        let from = step * 20 * 15_000;
        let series = (0..40)
            .map(|i| wave("load", &format!("host-{i}"), from, 20))
            .collect();
        let body = snappy(&request(series));
        for (_, adapter) in &adapters {
            let response = post(&adapter.url(), V1_CONTENT_TYPE, body.clone()).await;
            assert_eq!(response.status(), StatusCode::NO_CONTENT);
        }
    }
    let scores = |sink: &Sink| {
        let mut scores = sink.named("omen_anomaly_score");
        scores.sort_by_key(|s| (label(s, "instance"), s.samples.first().map(|p| p.timestamp)));
        scores
    };
    let (one, parts) = (scores(&adapters[0].0), scores(&adapters[1].0));
    let compared: usize = one.iter().map(|s| s.samples.len()).sum();
    assert!(compared >= 1_000, "scores after warm-up: {compared}");
    assert_eq!(one, parts, "scoring in parts changed the scores");
    for (_, adapter) in adapters {
        adapter.stop().await;
    }
}

#[tokio::test]
async fn downstream_outage_is_retried_then_answered_503_and_rejection_400() {
    let (sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let body = || snappy(&request(vec![wave("x", "a", 0, 3)]));
    // Two failures, then success: the adapter retries and the sender sees success.
    sink.script.lock().extend([
        StatusCode::SERVICE_UNAVAILABLE,
        StatusCode::INTERNAL_SERVER_ERROR,
    ]);
    assert_eq!(
        post(&adapter.url(), V1_CONTENT_TYPE, body()).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(sink.calls.load(Ordering::SeqCst), 3);
    // A long outage: after retry_for (2s in tests) the sender gets 503 and keeps its data.
    sink.script
        .lock()
        .extend(std::iter::repeat_n(StatusCode::SERVICE_UNAVAILABLE, 1000));
    let response = post(&adapter.url(), V1_CONTENT_TYPE, body()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("downstream unavailable")
    );
    sink.script.lock().clear();
    // A downstream that refuses the data as invalid: no retry helps, the sender is told 400.
    sink.script.lock().push(StatusCode::BAD_REQUEST);
    let response = post(&adapter.url(), V1_CONTENT_TYPE, body()).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .text()
            .await
            .expect("body")
            .contains("downstream rejected")
    );
    adapter.stop().await;
}

#[tokio::test]
async fn full_queues_answer_503_instead_of_growing() {
    // A downstream that never answers: the first request occupies the queue; the next finds it full.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut config = config_for(addr);
    config.downstream.shards = 1;
    config.downstream.queue_samples = 100;
    config.downstream.max_samples_per_send = 100;
    let adapter = Adapter::start(config).await;
    let url = adapter.url();
    let first = tokio::spawn(async move {
        post(
            &url,
            V1_CONTENT_TYPE,
            snappy(&request(vec![wave("q", "a", 0, 60)])),
        )
        .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = post(
        &adapter.url(),
        V1_CONTENT_TYPE,
        snappy(&request(vec![wave("q", "b", 0, 60)])),
    )
    .await;
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(second.text().await.expect("body").contains("queue"));
    first.abort();
    drop(listener);
}

#[tokio::test]
async fn admin_endpoints_serve_metrics_liveness_and_readiness() {
    let (_sink, addr) = Sink::start().await;
    let adapter = Adapter::start(config_for(addr)).await;
    let body = snappy(&request(vec![wave("cpu", "a", 0, 20)]));
    assert_eq!(
        post(&adapter.url(), V1_CONTENT_TYPE, body).await.status(),
        StatusCode::NO_CONTENT
    );
    let get = |path: &str| reqwest::get(format!("http://{}{path}", adapter.admin));
    assert_eq!(get("/live").await.expect("live").status(), StatusCode::OK);
    assert_eq!(get("/ready").await.expect("ready").status(), StatusCode::OK);
    let metrics = get("/metrics")
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for needle in [
        "omen_adapter_samples_received_total{protocol=\"1.0\"} 20",
        "omen_adapter_requests_total{code=\"204\",protocol=\"1.0\"} 1",
        "omen_adapter_active_series 1",
        "omen_adapter_samples_forwarded_total{kind=\"original\"} 20",
        "omen_adapter_build_info{",
    ] {
        assert!(
            metrics.contains(needle),
            "missing `{needle}` in:\n{metrics}"
        );
    }
    adapter.stop().await;
}
