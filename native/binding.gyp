{
  "targets": [
    {
      "target_name": "ktest_native",
      "sources": [
        "<!@(ls -1 src/*.cc lib/*.c)"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "include",
        "../kmod"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-Wall", "-Wextra", "-std=c++17"]
    }
  ]
}
