fn main() -> std::process::ExitCode {
    auth_demo::main()
}
