"""Past runs read back from their run directories, and the tests that compare them."""
