//! `sqlx::migrate!` embeds the migrations when this crate compiles; on stable Rust it can't
//! tell cargo to watch them, so a migration added without a change to the code would be left
//! out of an incremental build. This asks cargo to rebuild when either folder changes.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/sqlite");
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
