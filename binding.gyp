{
  "variables": {
    "libtorch%": "<!(node -p \"process.env.LIBTORCH || ''\")"
  },
  "targets": [
    {
      "target_name": "resnets",
      "sources": [
        "native/addon.cc",
        "native/common.cc",
        "native/allocator.cc",
        "native/tensor_ops.cc",
        "native/view_ops.cc",
        "native/nn_ops.cc",
        "native/autograd.cc",
        "native/checkpoint.cc",
        "native/trace.cc",
        "native/autocast.cc",
        "native/dnnl_plan.cc",
        "native/dnnl_build.cc",
        "native/dnnl_tune.cc",
        "native/distributed.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_EXPERIMENTAL"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter"],
      "conditions": [
        ["libtorch==''", {
          "include_dirs": ["/usr/include/torch/csrc/api/include", "native/compat"],
          "libraries": ["-ltorch", "-ltorch_cpu", "-lc10", "-ldnnl", "-lgomp"]
        }, {
          "include_dirs": ["<(libtorch)/include", "<(libtorch)/include/torch/csrc/api/include"],
          "libraries": [
            "-L<(libtorch)/lib", "-Wl,-rpath,<(libtorch)/lib",
            "-Wl,--no-as-needed", "-ltorch", "-ltorch_cpu", "-lc10", "-Wl,--as-needed", "-ldnnl", "-lgomp"
          ]
        }]
      ]
    }
  ]
}
