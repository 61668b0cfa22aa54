//! `raug completions` and `raug man`: generated from the clap definition, valid for their
//! readers (bash parses the script; groff renders the page without a warning).

use std::process::Command;

use crate::harness::Workdir;

#[test]
fn completions_cover_every_shell_and_option() {
    let wd = Workdir::new();
    for (shell, marks) in [
        (
            "bash",
            [
                "complete -F _raug -o bashdefault -o default raug",
                "--fixed-scores",
            ],
        ),
        ("zsh", ["#compdef raug", "--fixed-scores"]),
        ("fish", ["complete -c raug", "fixed-scores"]),
    ] {
        let run = wd.run(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for mark in marks {
            assert!(run.stdout.contains(mark), "{shell} lacks {mark:?}");
        }
    }
    // bash reads the script without a syntax error.
    let run = wd.run(&["completions", "bash"]);
    wd.write("raug.bash", &run.stdout);
    let check = Command::new("bash")
        .arg("-n")
        .arg(wd.path("raug.bash"))
        .output()
        .expect("bash runs");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let run = wd.run(&["completions", "tcsh"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("invalid value 'tcsh'"),
        "{}",
        run.stderr
    );
    // The install commands in --help, a line each (clap would run them into one paragraph).
    let run = wd.run(&["completions", "--help"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.starts_with(
            "Print a completion script for a shell on standard output.\n\n\
             Install it where the shell looks, e.g.\n  \
             raug completions bash > ~/.local/share/bash-completion/completions/raug\n  \
             raug completions zsh > \"${fpath[1]}/_raug\"\n  \
             raug completions fish > ~/.config/fish/completions/raug.fish\n\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn man_pages_render_for_raug_and_each_command() {
    let wd = Workdir::new();
    let run = wd.run(&["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(".TH raug 1"), "{}", run.stdout);
    assert!(run.stdout.contains("raug\\-relabel(1)"), "{}", run.stdout);
    let run = wd.run(&["man", "--subcommand", "relabel"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(".TH raug-relabel 1"), "{}", run.stdout);
    assert!(
        run.stdout.contains("\\-\\-fixed\\-scores"),
        "{}",
        run.stdout
    );
    wd.write("raug-relabel.1", &run.stdout);
    // groff (man-db's renderer) reads it without a warning.
    let groff = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(wd.path("raug-relabel.1"))
        .output()
        .expect("groff runs (it comes with man-db)");
    assert!(
        groff.status.success() && groff.stderr.is_empty(),
        "groff: {}",
        String::from_utf8_lossy(&groff.stderr)
    );
    let run = wd.run(&["man", "--subcommand", "nope"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "raug: error: --subcommand nope: no such command; pick one of inspect, pairs, relabel, condition, layouts, completions, man\n"
    );
}
