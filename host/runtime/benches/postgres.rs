//! Connector overhead against native tokio-postgres, measured in one process against the
//! local PostgreSQL (127.0.0.1:5432, user postgres), and instantiation time of a pooled
//! instance. Prints both sides and their ratio; docs/benchmarks.md records the figures.
//!
//! Run: `scripts/build-wasm.sh && cargo bench -p lathe-runtime --bench postgres`

use lathe_runtime::instance::RunRequest;
use lathe_runtime::manifest::Manifest;
use lathe_runtime::{EgressPolicy, Engine, EngineConfig, Limits, Plugin, Pool, PoolConfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WIDE: &str = "select g, g + 1, g * 2::bigint, 'row ' || g, g::float8 / 3, \
    timestamptz '2026-01-01' + g * interval '1 second', g % 2 = 0, md5(g::text), \
    g::numeric / 7, jsonb_build_object('g', g) from generate_series(1, 100000) g";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main]
async fn main() {
    let cache = tempfile::tempdir().unwrap();
    let profiling = std::env::var("LATHE_BENCH_PROFILE_SELECT1").ok();
    let mut engine_config = EngineConfig::new(cache.path());
    if profiling.is_some() {
        // Valgrind can't reserve the address space of a full instance pool.
        engine_config.max_instances = 1;
    }
    let engine = Engine::new(engine_config).unwrap();
    let dir = root().join("plugins/postgres");
    // LATHE_BENCH_COMPONENT names another build of the connector, to compare two.
    let component = std::env::var_os("LATHE_BENCH_COMPONENT").map_or_else(
        || root().join("target/wasm32-wasip2/wasm/lathe_plugin_postgres.wasm"),
        PathBuf::from,
    );
    let wasm =
        std::fs::read(&component).expect("build the components first: scripts/build-wasm.sh");
    let plugin = Arc::new(Plugin::new(&engine, Manifest::load(&dir).unwrap(), &wasm).unwrap());
    let config = serde_json::json!({
        "host": "127.0.0.1", "port": 5432, "username": "postgres", "database": "postgres",
        "ssl_mode": "disable"
    });
    let settings = PoolConfig {
        max_size: 1,
        limits: Limits {
            max_rows: 100_000,
            max_bytes: 1 << 30,
            batch_rows: 5_000,
            call_timeout: Duration::from_secs(120),
            ..Limits::default()
        },
        ..PoolConfig::default()
    };
    let pool = Pool::new(
        plugin.clone(),
        config,
        EgressPolicy::local_development(),
        settings,
    );
    let (client, connection) = tokio_postgres::connect(
        "host=127.0.0.1 port=5432 user=postgres dbname=postgres",
        tokio_postgres::NoTls,
    )
    .await
    .expect("the local PostgreSQL");
    tokio::spawn(connection);
    let sql = |text: &str| RunRequest {
        operation: "sql".into(),
        query: serde_json::json!({ "sql": text }),
        params: Vec::new(),
    };

    // For profilers (see docs/benchmarks.md): only the connector's `select 1`, N times.
    if let Some(count) = profiling {
        let count: u32 = count.parse().expect("a number of queries");
        let started = Instant::now();
        for _ in 0..count {
            pool.run(sql("select 1")).await.unwrap();
        }
        println!("{count} × select 1 in {:?}", started.elapsed());
        return;
    }

    // (a) select 1, warm: the pooled instance holds its connection (and, after the first
    // run, its prepared statement). Two native baselines: `query(&str)`, which prepares an
    // unnamed statement and then executes it (two round trips), and a statement prepared
    // once (one round trip per query, as the connector's cached statement takes). The
    // three sides alternate in short blocks so that load from elsewhere on the machine
    // falls on all of them; each figure is the median of the block means. The process's
    // CPU time per query is reported beside it: unlike wall time it hardly depends on
    // what else the machine runs, and the server's work is not in it.
    let prepared = client.prepare("select 1").await.unwrap();
    for _ in 0..200 {
        pool.run(sql("select 1")).await.unwrap();
        client.query("select 1", &[]).await.unwrap();
        client.query(&prepared, &[]).await.unwrap();
    }
    let (blocks, per_block) = (100, 30u32);
    let mut sides: [Side; 3] = Default::default();
    for _ in 0..blocks {
        sides[0]
            .measure(per_block, async || {
                let out = pool.run(sql("select 1")).await.unwrap();
                assert_eq!(out.row_count, 1);
            })
            .await;
        sides[1]
            .measure(per_block, async || {
                let rows = client.query("select 1", &[]).await.unwrap();
                assert_eq!(rows[0].get::<_, i32>(0), 1);
            })
            .await;
        sides[2]
            .measure(per_block, async || {
                let rows = client.query(&prepared, &[]).await.unwrap();
                assert_eq!(rows[0].get::<_, i32>(0), 1);
            })
            .await;
    }
    // The connector's mean includes, amortised, reopening its instance every `max_calls`
    // calls (1,000 until session 15, 100,000 since), which the median leaves out.
    let ours_mean = sides[0].wall.iter().sum::<Duration>() / sides[0].wall.len() as u32;
    let [ours, unprepared, once] = sides.map(Side::summary);
    println!(
        "(a) select 1, per query: connector {:.1} µs ({:.1} µs CPU); native query(&str) \
         {:.1} µs ({:.1} µs CPU); native prepared {:.1} µs ({:.1} µs CPU)",
        micros(ours.0),
        micros(ours.1),
        micros(unprepared.0),
        micros(unprepared.1),
        micros(once.0),
        micros(once.1)
    );
    println!(
        "(a) connector mean per query, with instance recycling: {:.1} µs",
        micros(ours_mean)
    );
    report(
        "(a) vs native query(&str), unprepared",
        ours.0,
        unprepared.0,
        1.3,
    );
    report("(a) vs native query(&prepared)", ours.0, once.0, 1.3);

    // (b) 100,000 rows × 10 columns, values decoded on both sides.
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let out = pool.run(sql(WIDE)).await.unwrap();
        assert_eq!(out.row_count, 100_000);
        ours.push(started.elapsed());

        let started = Instant::now();
        let rows = client.query(WIDE, &[]).await.unwrap();
        let mut checksum = 0i64;
        for row in &rows {
            checksum += row.get::<_, i32>(0) as i64;
            let _: (i32, i64, String, f64) = (row.get(1), row.get(2), row.get(3), row.get(4));
            let _: (std::time::SystemTime, bool, String) = (row.get(5), row.get(6), row.get(7));
            let _: serde_json::Value = row.get(9);
        }
        assert_eq!(rows.len(), 100_000);
        assert!(checksum > 0);
        theirs.push(started.elapsed());
    }
    report(
        "(b) 100,000 rows × 10 columns",
        median(ours),
        median(theirs),
        2.0,
    );

    // (c) instantiating a pooled instance from the pre-instantiated component.
    for _ in 0..50 {
        plugin.probe().await.unwrap();
    }
    let samples: Vec<Duration> = {
        let mut v = Vec::new();
        for _ in 0..1_000 {
            v.push(plugin.probe().await.unwrap());
        }
        v
    };
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "(c) instantiation: median {:.1} µs, mean {:.1} µs (target ≤ 50 µs)",
        micros(median(samples)),
        micros(mean)
    );
}

/// Block means of one side of (a): wall time and the process's CPU time per query.
#[derive(Default)]
struct Side {
    wall: Vec<Duration>,
    cpu: Vec<Duration>,
}

impl Side {
    async fn measure(&mut self, count: u32, mut query: impl AsyncFnMut()) {
        let (started, cpu) = (Instant::now(), cpu_time());
        for _ in 0..count {
            query().await;
        }
        self.wall.push(started.elapsed() / count);
        self.cpu.push(cpu_time().saturating_sub(cpu) / count);
    }

    /// The medians of wall and CPU time.
    fn summary(self) -> (Duration, Duration) {
        (median(self.wall), median(self.cpu))
    }
}

/// CPU time of every thread of this process so far, from Linux's per-thread schedstat
/// (nanoseconds on the CPU); zero where that is not available.
fn cpu_time() -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|line| line.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

fn report(name: &str, connector: Duration, native: Duration, target: f64) {
    let ratio = connector.as_secs_f64() / native.as_secs_f64();
    println!(
        "{name}: connector {:.1} µs, native {:.1} µs, ratio {ratio:.2}× (target ≤ {target}×)",
        micros(connector),
        micros(native)
    );
}
