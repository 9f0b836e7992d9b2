//! The `keyway` binary: parses the command line and hands over to the library.

fn main() -> std::process::ExitCode {
    keyway::cli::main()
}
