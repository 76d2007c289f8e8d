//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds
//! the migration files it finds, but Cargo tracks only files that exist.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
