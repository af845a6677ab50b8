// ui_e2e_lab OUTDIR: builds the lab of SPEC 17.15 item 128 labelled "e2e-test" with its output in
// OUTDIR (OutDir::exact), runs the TCP echo with its logs and timeline events, and exits. The
// devtools UI test (SPEC 17.17 item 152) serves OUTDIR. Runs rootless (patchbay_autoinit).
#include <exception>
#include <iostream>

#include "../integration/e2e_scenario.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: ui_e2e_lab OUTDIR\n";
    return 2;
  }
  try {
    patchbay::Lab lab{patchbay::LabOpts{}.label("e2e-test").outdir(patchbay::OutDir::exact(argv[1]))};
    const std::string reply = pbtest::run_e2e_scenario(lab);
    if (reply != "hello") {
      std::cerr << "ui_e2e_lab: echo returned '" << reply << "'\n";
      return 1;
    }
    lab.shutdown();  // state.json says "stopped" before we report success
    std::cout << lab.outdir()->string() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "ui_e2e_lab: " << e.what() << "\n";
    return 1;
  }
}
