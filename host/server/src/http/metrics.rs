//! Request metrics in the Prometheus text format: a counter per (method, route, status) and a
//! latency histogram per (method, route). Routes are the matched templates, never raw paths, so
//! ids in URLs can't blow up the number of series.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Series by route template, then method: looked up by `&str` on every request, so a request
/// to a route seen before allocates nothing.
#[derive(Default)]
struct Inner {
    routes: BTreeMap<String, BTreeMap<String, Series>>,
}

#[derive(Default)]
struct Series {
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !inner.routes.contains_key(route) {
            inner.routes.insert(route.to_string(), BTreeMap::new());
        }
        let methods = inner.routes.get_mut(route).expect("inserted above");
        if !methods.contains_key(method) {
            methods.insert(method.to_string(), Series::default());
        }
        let series = methods.get_mut(method).expect("inserted above");
        *series.statuses.entry(status).or_default() += 1;

        let h = &mut series.latency;
        let secs = elapsed.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// The exposition text for `/metrics`.
    pub fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let series = || {
            inner.routes.iter().flat_map(|(route, methods)| {
                methods
                    .iter()
                    .map(move |(method, series)| (method, escape(route), series))
            })
        };
        let mut out = String::new();

        out.push_str("# HELP lathe_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE lathe_http_requests_total counter\n");
        for (method, route, series) in series() {
            for (status, n) in &series.statuses {
                let _ = writeln!(
                    out,
                    "lathe_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}",
                );
            }
        }

        out.push_str("# HELP lathe_http_request_duration_seconds Time to answer HTTP requests.\n");
        out.push_str("# TYPE lathe_http_request_duration_seconds histogram\n");
        for (method, route, series) in series() {
            let h = &series.latency;
            let labels = format!("method=\"{method}\",route=\"{route}\"");
            for (bound, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "lathe_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "lathe_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "lathe_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "lathe_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        out
    }
}

/// The method as a label: the standard ones by name, any other as `other`. A client may send
/// any token as a method, and each distinct label is a series kept for the process's life.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_share_one_label() {
        let made_up = |name: &str| axum::http::Method::from_bytes(name.as_bytes()).unwrap();
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
        assert_eq!(method_label(&made_up("XAAAAAAAAAA")), "other");
        assert_eq!(method_label(&made_up("get")), "other");
    }

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record("GET", "/livez", 200, Duration::from_millis(3));
        m.record("GET", "/livez", 200, Duration::from_millis(30));
        let text = m.render();
        assert!(text.contains(
            "lathe_http_requests_total{method=\"GET\",route=\"/livez\",status=\"200\"} 2"
        ));
        assert!(text.contains("route=\"/livez\",le=\"0.005\"} 1"));
        assert!(text.contains("route=\"/livez\",le=\"0.05\"} 2"));
        assert!(text.contains(
            "lathe_http_request_duration_seconds_count{method=\"GET\",route=\"/livez\"} 2"
        ));
    }
}
