//! `embed_migrations!` reads `migrations/` when `src/db/mod.rs` compiles, but cargo does not
//! know the macro read it: a new migration folder would not be embedded until that file
//! changed. Rebuilding when anything under `migrations/` changes closes that gap.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
