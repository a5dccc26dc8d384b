//! The `werk` command; see `werk --help`.

fn main() {
    std::process::exit(werk::cli::main(std::env::args_os().skip(1)));
}
