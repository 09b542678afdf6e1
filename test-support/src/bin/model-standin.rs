//! Runs the model stand-in by hand, to point a real agent CLI at it:
//! `cargo run -p kitty-test-support --bin model-standin -- <agent> [whole-file]`. Prints its URL,
//! then one line per request it answers.

use std::time::Duration;

use kitty_test_support::model_standin::{EditStyle, ModelStandIn};

fn main() {
    let mut args = std::env::args().skip(1);
    let agent = args.next().unwrap_or_else(|| "agent".into());
    let style = if args.next().as_deref() == Some("whole-file") { EditStyle::WholeFile } else { EditStyle::Tools };
    let standin = ModelStandIn::start(&agent, style);
    println!("{}", standin.url);
    let mut shown = 0;
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let transcript = standin.transcript();
        let lines: Vec<&str> = transcript.lines().collect();
        for line in &lines[shown.min(lines.len())..] {
            println!("{line}");
        }
        shown = lines.len();
    }
}
