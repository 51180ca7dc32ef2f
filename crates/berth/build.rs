fn main() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("hot-text.ld");
    println!("cargo:rerun-if-changed=hot-text.ld");
    println!("cargo:rustc-link-arg-bin=berth=-Wl,-T,{}", script.display());
}
