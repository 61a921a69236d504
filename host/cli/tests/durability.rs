//! Durability: a server killed with SIGKILL while clients write loses no acknowledged write.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::json;

const WRITERS: usize = 4;
const PER_WRITER: usize = 10;

#[test]
fn every_acknowledged_member_survives_a_sigkill() {
    let server = Server::with_admin();
    let admin = server.admin();
    let ws = common::create_workspace(&admin, "Ops");
    for i in 0..WRITERS * PER_WRITER {
        admin
            .post(
                "/api/v1/users",
                &json!({ "email": format!("u{i}@example.com"), "password": "durable password" }),
            )
            .expect_status(201);
    }

    let acked = Arc::new(Mutex::new(Vec::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (admin, ws, acked, count) =
                (admin.clone(), ws.clone(), acked.clone(), count.clone());
            std::thread::spawn(move || {
                for j in 0..PER_WRITER {
                    let email = format!("u{}@example.com", w * PER_WRITER + j);
                    let body = json!({ "email": email, "role": "viewer" });
                    match admin.try_send("POST", &format!("/api/v1/workspaces/{ws}/members"), &body)
                    {
                        Ok(r) if r.status == 201 => {
                            acked.lock().unwrap().push(email);
                            count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!("unexpected answer {}: {}", r.status, r.body),
                        Err(_) => return, // the server is gone
                    }
                }
            })
        })
        .collect();

    // Kill mid-stream: after some writes are acknowledged but (very likely) before all are.
    let deadline = Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::SeqCst) < WRITERS * 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let store = server.crash();
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let total = WRITERS * PER_WRITER;
    eprintln!(
        "{} of {total} member writes acknowledged before SIGKILL",
        acked.len()
    );
    assert!(
        acked.len() >= WRITERS * 2,
        "only {} writes acknowledged",
        acked.len()
    );

    let server = Server::start_on(store, &[]);
    let admin = server.admin();
    let members = admin
        .get(&format!("/api/v1/workspaces/{ws}/members"))
        .json();
    let present: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    for email in &acked {
        assert!(
            present.contains(&email.as_str()),
            "acknowledged member {email} lost after SIGKILL"
        );
    }
}
