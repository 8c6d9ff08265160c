// placeholder: implemented by the snp codec work
