//! The `lathe` command line.

fn main() {}
