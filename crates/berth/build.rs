//! Links the `berth` binary with `hot-text.ld`, which groups the serving
//! path's code (see the script for why). An `INSERT` script only adds an
//! output section to the linker's default layout, so lld and GNU ld both
//! take it.
fn main() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hot-text.ld");
    println!("cargo:rerun-if-changed=hot-text.ld");
    println!("cargo:rustc-link-arg-bin=berth=-Wl,-T,{}", script.display());
}
