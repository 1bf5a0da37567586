// Compiles the one C helper (80-bit long double arithmetic, as Redis does it).
fn main() {
    println!("cargo:rerun-if-changed=src/native/longdouble.c");
    cc::Build::new().file("src/native/longdouble.c").opt_level(2).compile("rustis_ld");
}
