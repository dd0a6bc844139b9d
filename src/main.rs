//! The `sahulat` command: serves the API and administers it.

fn main() -> std::process::ExitCode {
    sahulat::cli::main()
}
