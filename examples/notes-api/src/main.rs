fn main() -> std::process::ExitCode {
    notes_api::main()
}
