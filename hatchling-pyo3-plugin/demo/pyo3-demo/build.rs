// Records which cargo profile built the library, so tests can tell an editable (dev) build
// from a wheel (release) build.
fn main() {
    let profile = std::env::var("PROFILE").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=DEMO_BUILD_PROFILE={profile}");
    println!("cargo:rerun-if-changed=build.rs");
}
