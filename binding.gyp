{
  "targets": [
    {
      "target_name": "txlake_native",
      "sources": ["native/v1_writer.c"],
      "cflags": ["-O2"]
    }
  ]
}
