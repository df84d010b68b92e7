# segw native addon. Sources are every .cc under native/src (each component registers itself,
# see native/src/registry.h), so adding a component does not touch this file.
# OpenSSL: the symbols come from the node binary itself (node_shared_openssl is false on the
# supported builds) and the headers from Node's include dir, so no second libcrypto is linked.
{
  "targets": [
    {
      "target_name": "segw",
      "sources": [
        "<!@(node scripts/native-sources.mjs)"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/src"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "_GNU_SOURCE"
      ],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=gnu++20", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
      "cflags": ["-O2"],
      "libraries": ["-lpthread"]
    }
  ]
}
