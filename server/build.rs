//! Rebuilds the server when a migration changes (they are embedded by `sqlx::migrate!`) or the
//! built task pane does (`web/dist`, embedded by `web::Built` in release builds).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
    // Until the pane is built its folder does not exist; then watch the folder it will appear in.
    if std::path::Path::new("../web/dist").is_dir() {
        println!("cargo:rerun-if-changed=../web/dist");
    } else {
        println!("cargo:rerun-if-changed=../web");
    }
}
